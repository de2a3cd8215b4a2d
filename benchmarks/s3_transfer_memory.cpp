// A large streamed upload and download through intg::s3::client against moto (scripts/bench-s3-transfer
// starts it): SIZE MiB generated on the fly (never held whole) go up as a multipart upload of
// PART MiB parts, PARALLEL in flight, and come back as ranged GETs of PART MiB handed to a sink
// that checks every byte. The process's peak resident memory (VmHWM, reset between the phases
// through /proc/self/clear_refs) is compared with the bound the client promises,
// PARALLEL x PART + 16 MiB; throughput is reported (moto, a Python server on the same cores, is
// the bottleneck). Prints one JSON line.
//
//   s3_transfer_memory ENDPOINT KEY_ID SECRET BUCKET SIZE_MIB PART_MIB PARALLEL
#include <intg/providers/s3.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace cloud = intg::cloud;

namespace {

constexpr std::uint64_t mib = 1u << 20;

// Byte i of the object: no period that lines up with parts or buffers.
char byte_at(std::uint64_t i) { return static_cast<char>((i * 7 + i / 4099) % 251); }

// "VmHWM:  123456 kB" (the peak) or "VmRSS: ..." of this process, in bytes.
std::uint64_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10) * 1024;
  return 0;
}
// Resets VmHWM to the current resident size (Linux 4.0 and later).
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: s3_transfer_memory ENDPOINT KEY_ID SECRET BUCKET SIZE_MIB PART_MIB PARALLEL\n");
    return 2;
  }
  const std::string endpoint = argv[1], bucket = argv[4];
  const std::uint64_t size = std::strtoull(argv[5], nullptr, 10) * mib;
  const std::size_t part = static_cast<std::size_t>(std::strtoull(argv[6], nullptr, 10) * mib);
  const std::size_t parallel = static_cast<std::size_t>(std::atoi(argv[7]));
  intg::integration_config cfg;
  cfg.name = "s3";
  cfg.settings = {{"base_url", endpoint}, {"access_key_id", argv[2]}, {"secret_access_key", argv[3]}, {"region", "us-east-1"}};
  cfg.timeout = std::chrono::minutes(5);  // moto assembles the whole object at completion
  cfg.rate_limits.requests_per_minute = 6'000'000;  // the default (600/min) is for APIs, not transfers
  cfg.rate_limits.burst_limit = 100'000;
  intg::rest::client_options local;
  local.extra_allowed_hosts = {"127.0.0.1"};
  asio::io_context io;
  intg::s3::client s3(cfg, io.get_executor(), local);
  int rc = 1;
  boost::json::object out{{"impl", "intg"}, {"size_mib", size / mib}, {"part_mib", part / mib}, {"parallel", parallel}};
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    if (auto ok = co_await s3.initialize(); !ok) {
      std::cerr << ok.error() << '\n';
      co_return;
    }
    if (auto b = co_await s3.create_bucket(bucket); !b) {
      std::cerr << b.error() << '\n';
      co_return;
    }
    const std::uint64_t bound = parallel * part + 16 * mib;
    out["bound_mib"] = static_cast<double>(bound) / mib;
    out["baseline_rss_mib"] = static_cast<double>(status_bytes("VmRSS")) / mib;

    // Up: the source generates each byte when asked.
    auto produced = std::make_shared<std::uint64_t>(0);
    cloud::byte_source source = [produced, size](std::span<char> buf) -> asio::awaitable<intg::result<std::size_t>> {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - *produced));
      for (std::size_t i = 0; i < n; ++i) buf[i] = byte_at(*produced + i);
      *produced += n;
      co_return n;
    };
    reset_peak();
    auto t0 = std::chrono::steady_clock::now();
    cloud::put_options po;
    po.part_size = part;
    po.parallel = parallel;
    auto up = co_await s3.upload(bucket, "big.bin", std::move(source), po);
    const double up_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!up) {
      std::cerr << "upload: " << up.error() << '\n';
      co_return;
    }
    const std::uint64_t up_peak = status_bytes("VmHWM");

    // Down: the sink checks each byte against the pattern and keeps nothing.
    auto received = std::make_shared<std::uint64_t>(0);
    auto wrong = std::make_shared<std::uint64_t>(0);
    cloud::byte_sink sink = [received, wrong](std::string_view chunk) -> asio::awaitable<intg::result<void>> {
      for (std::size_t i = 0; i < chunk.size(); ++i)
        if (chunk[i] != byte_at(*received + i)) ++*wrong;
      *received += chunk.size();
      co_return intg::result<void>{};
    };
    reset_peak();
    t0 = std::chrono::steady_clock::now();
    cloud::get_options go;
    go.part_size = part;
    auto down = co_await s3.get_stream(bucket, "big.bin", std::move(sink), go);
    const double down_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!down) {
      std::cerr << "download: " << down.error() << '\n';
      co_return;
    }
    const std::uint64_t down_peak = status_bytes("VmHWM");
    (void)co_await s3.delete_object(bucket, "big.bin");
    (void)co_await s3.delete_bucket(bucket);

    out["uploaded_mib"] = static_cast<double>(up->size) / mib;
    out["upload_mib_per_s"] = static_cast<double>(size) / mib / up_s;
    out["upload_peak_rss_mib"] = static_cast<double>(up_peak) / mib;
    out["downloaded_mib"] = static_cast<double>(*received) / mib;
    out["download_mib_per_s"] = static_cast<double>(size) / mib / down_s;
    out["download_peak_rss_mib"] = static_cast<double>(down_peak) / mib;
    out["wrong_bytes"] = *wrong;
    const bool whole = up->size == size && *received == size && *wrong == 0;
    const bool within = up_peak <= bound && down_peak <= bound;
    out["content_intact"] = whole;
    out["within_bound"] = within;
    rc = whole && within ? 0 : 3;
  }, asio::detached);
  io.run();
  std::cout << boost::json::serialize(out) << '\n';
  return rc;
}
