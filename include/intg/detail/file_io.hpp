// Small POSIX file helpers for intg's security stores: read a whole file, replace a file
// atomically (write a temporary, fsync, rename, fsync the directory) so readers never see a
// half-written file, and a file's identity (inode, size, mtime) to notice replacements.
// Files these helpers create are opened O_EXCL | O_NOFOLLOW: a symlink or file planted at a
// temporary or lock path is never followed or reused.
#pragma once

#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/random.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace intg::detail {

inline error io_error(std::string what, const std::filesystem::path& p, int err = errno) {
  return error{boost::system::error_code(err, boost::system::system_category()), what + " " + p.string()};
}

/// RAII file descriptor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

inline result<void> write_all(int fd, std::string_view data, const std::filesystem::path& p) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", p);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

/// How a directory is made durable after a rename. A test seam (fsync failures cannot be
/// provoked on a healthy disk); production code never changes it.
inline int (*fsync_directory)(int fd) = ::fsync;

/// Creates `p` exclusively (O_CREAT | O_EXCL | O_NOFOLLOW) with permissions exactly `mode`
/// (not reduced by the umask). Fails with EEXIST when anything, a symlink included, is there.
inline result<unique_fd> create_exclusive(const std::filesystem::path& p, mode_t mode) {
  unique_fd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return io_error("cannot create", p);
  if (::fchmod(fd.get(), mode) != 0) {
    const int err = errno;
    ::unlink(p.c_str());
    return io_error("cannot set permissions of", p, err);
  }
  return fd;
}

/// The bytes of `p` from `offset` to the end; errc::not_found when it does not exist,
/// errc::invalid_argument when it is shorter than `offset` or the rest exceeds `max` bytes.
inline result<std::string> read_file_from(const std::filesystem::path& p, std::uint64_t offset, std::size_t max = 64u << 20) {
  unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return error{errc::not_found, "no file " + p.string()};
    return io_error("cannot open", p);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", p);
  if (static_cast<std::uint64_t>(st.st_size) < offset) return error{errc::invalid_argument, "file shorter than expected: " + p.string()};
  if (static_cast<std::uint64_t>(st.st_size) - offset > max) return error{errc::invalid_argument, "file too large: " + p.string()};
  if (::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) return io_error("cannot seek in", p);
  std::string out;
  out.reserve(static_cast<std::size_t>(static_cast<std::uint64_t>(st.st_size) - offset));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", p);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max) return error{errc::invalid_argument, "file too large: " + p.string()};
  }
  return out;
}

/// The whole file; errc::not_found when it does not exist; files over `max` bytes are refused.
inline result<std::string> read_file(const std::filesystem::path& p, std::size_t max = 64u << 20) {
  return read_file_from(p, 0, max);
}

/// Replaces `p` with `data` atomically: readers see the old or the new content, never a mix.
/// An existing file keeps its permission bits; a new one gets `mode` (0600 by default: secrets
/// and logs are private). The temporary has an unpredictable name and is created exclusively.
/// A failure to make the rename durable (fsync of the directory) is reported: the new content
/// is then in place but may not survive a crash.
inline result<void> atomic_replace(const std::filesystem::path& p, std::string_view data, mode_t mode = 0600) {
  struct stat st {};
  if (::stat(p.c_str(), &st) == 0) mode = st.st_mode & 07777;
  std::filesystem::path tmp;
  unique_fd fd;
  for (int attempt = 0;; ++attempt) {
    auto suffix = crypto::random_bytes(8);
    if (!suffix) return suffix.error();
    tmp = p.string() + ".tmp." + crypto::to_hex(*suffix);
    auto created = create_exclusive(tmp, mode);
    if (created) {
      fd = std::move(*created);
      break;
    }
    if (created.error().code() != boost::system::errc::file_exists || attempt == 3) return created.error();
  }
  if (auto r = write_all(fd.get(), data, tmp); !r) {
    ::unlink(tmp.c_str());
    return r;
  }
  if (::fsync(fd.get()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("cannot fsync", tmp, err);
  }
  fd.reset();
  if (::rename(tmp.c_str(), p.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("cannot rename onto", p, err);
  }
  // Make the rename itself durable.
  const auto dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) return io_error("replaced, but cannot open the directory to fsync it:", dir);
  if (fsync_directory(d.get()) != 0) return io_error("replaced, but cannot fsync the directory", dir);
  return {};
}

/// What identifies one version of a file: a rename changes the inode, a rewrite size or mtime.
struct file_identity {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = -1;
  std::int64_t mtime_ns = 0;
  friend bool operator==(const file_identity&, const file_identity&) = default;
};

inline std::optional<file_identity> identify(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  return file_identity{st.st_dev, st.st_ino, st.st_size,
                       static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

/// An exclusive advisory lock on `p` (created 0600 if needed), released on destruction. A
/// symlink at `p` is refused, never followed.
inline result<unique_fd> lock_file(const std::filesystem::path& p) {
  unique_fd fd;
  for (int attempt = 0; !fd; ++attempt) {
    fd = unique_fd(::open(p.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (fd) break;
    if (errno != ENOENT || attempt == 3) return io_error("cannot open lock file", p);
    fd = unique_fd(::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd && errno != EEXIST) return io_error("cannot create lock file", p);  // EEXIST: lost a race, reopen
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return error{errc::invalid_argument, "lock file is not a regular file: " + p.string()};
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return io_error("cannot lock", p);
  return fd;
}

}  // namespace intg::detail
