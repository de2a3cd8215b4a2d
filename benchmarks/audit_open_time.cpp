// Open time of a 200,000-record audit log: verifying everything (checkpoint_every = 0) against
// starting from a checkpoint 10,000 records behind the end, and the full verify_audit_log().
// Usage: audit_open_time [log path]   (writes about 70 MB; removes it at the end)
#include <intg/security/audit.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>
int main(int argc, char** argv) {
  const auto path = std::filesystem::path(argc > 1 ? argv[1] : "intg-bench-audit.jsonl");
  const int n = 200000;
  for (bool keyed : {false, true}) {
    for (auto ext : {"", ".head", ".checkpoint"}) std::filesystem::remove(path.string() + ext);
    auto opts = [&](std::uint64_t every) {
      intg::audit_options o;
      o.fsync = intg::fsync_policy::never;
      o.checkpoint_every = every;
      if (keyed) o.chain_key = intg::secret{"a chain key of some length"};
      return o;
    };
    {
      auto log = intg::audit_log::open(path, opts(10000)).value();
      for (int i = 0; i < n - 10000; ++i)
        log.append({.actor = "svc-billing", .action = "token.issue", .tenant = "tenant_123", .target = "stripe",
                    .details = {{"i", i}, {"ip", "10.0.0.1"}}}).value();
    }
    {  // the last 10,000 records after the checkpoint, as after a crash just before the next one
      auto log = intg::audit_log::open(path, opts(0)).value();
      for (int i = 0; i < 10000; ++i) log.append({.actor = "svc-billing", .action = "token.issue", .tenant = "tenant_123",
                                                 .target = "stripe", .details = {{"i", i}, {"ip", "10.0.0.1"}}}).value();
    }
    auto time = [&](std::uint64_t every) {
      std::vector<double> ms;
      for (int r = 0; r < 5; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        { auto log = intg::audit_log::open(path, opts(every)).value(); }
        if (every) std::filesystem::copy_file(path.string() + ".cp", path.string() + ".checkpoint",
                                              std::filesystem::copy_options::overwrite_existing);  // keep it 10,000 behind
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      return ms[2];
    };
    std::filesystem::copy_file(path.string() + ".checkpoint", path.string() + ".cp", std::filesystem::copy_options::overwrite_existing);
    const double without = time(0), with = time(10000);
    const auto t0 = std::chrono::steady_clock::now();
    auto v = intg::verify_audit_log(path, keyed ? "a chain key of some length" : "");
    const double verify = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %d records, %.1f MB: open without checkpoint %.1f ms, with a checkpoint 10,000 records behind %.1f ms (median of 5); verify_audit_log %.1f ms (%s)\n",
                keyed ? "HMAC chain" : "SHA-256 chain", n, static_cast<double>(std::filesystem::file_size(path)) / 1e6, without, with, verify,
                v ? "ok" : "FAILED");
  }
  for (auto ext : {"", ".head", ".checkpoint", ".cp"}) std::filesystem::remove(path.string() + ext);
}
