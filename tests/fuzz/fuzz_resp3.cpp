// libFuzzer target: the RESP3 parser turns any bytes into values or an error, never a crash or
// an allocation of an announced size; parsing the same bytes split at any point gives the same
// values; every node's subtree end stays inside the response; the typed reads never misbehave,
// nor does reading a value as the shared rate limiter's GCRA reply (which must keep its contract).
// Input: the first byte chooses the split point (as a fraction of the rest), the rest is the stream.
#include <intg/redis/resp3.hpp>
#include <intg/shared/breaker_script.hpp>
#include <intg/shared/gcra.hpp>
#include <intg/shared/quota_script.hpp>
#include <intg/shared/token_script.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace resp3 = intg::redis::resp3;

namespace {
void check(bool ok, int line = __builtin_LINE()) {
  if (!ok) {
    std::fprintf(stderr, "property failed at fuzz_resp3.cpp:%d\n", line);
    std::abort();
  }
}

resp3::limits small_limits() {
  resp3::limits l;
  l.max_bulk_length = 1024;
  l.max_aggregate_size = 256;
  l.max_depth = 8;
  l.max_line_length = 256;
  l.max_reply_size = 64 * 1024;
  return l;
}

// Parses `in` in two pieces split at `cut`; returns a rendering of the values and whether it failed.
std::string run(std::string_view in, std::size_t cut, bool& failed) {
  resp3::parser p(small_limits());
  resp3::response out;
  std::string pending;
  std::string rendered;
  failed = false;
  for (std::string_view piece : {in.substr(0, cut), in.substr(cut)}) {
    pending.append(piece);
    for (;;) {
      auto r = p.parse(pending, out);
      if (!r) {
        failed = true;
        return rendered;
      }
      check(*r <= pending.size());
      pending.erase(0, *r);
      if (!p.done()) break;
      check(out.size() >= 1);
      const auto& nodes = out.nodes();
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        check(nodes[i].end > i && nodes[i].end <= nodes.size());
        if (!resp3::is_aggregate(nodes[i].type)) check(nodes[i].offset + nodes[i].size <= out.data().size());
      }
      const resp3::value_ref v = out[out.size() - 1];
      rendered += std::to_string(static_cast<int>(v.type())) + ":" + std::string(v.str()) + ":" + std::to_string(v.size()) + ";";
      // A reply read as a GCRA decision is within what was asked, or an error.
      intg::shared::gcra_params ask;
      ask.want = 8;
      ask.min = 2;
      if (auto g = intg::shared::parse_gcra_reply(v, ask)) {
        check(g->granted == 0 || (g->granted >= ask.min && g->granted <= ask.want));
        check(g->granted > 0 || g->retry_after.count() > 0);
        check(g->retry_after.count() >= 0 && g->remaining >= 0);
      }
      // Read as the breaker script's answer: a known state, a generation, a bounded time, a short reason.
      if (auto b = intg::shared::parse_breaker_reply(v)) {
        check(b->gen >= 0 && b->remaining.count() >= 0 && b->reason.size() <= 1024);
      }
      // Read as the token cache script's answer: a known state, a bounded time, a hit carries a token.
      if (auto t = intg::shared::parse_token_reply(v)) {
        check(t->remaining.count() >= 0);
        check(t->state != intg::shared::token_reply::kind::hit || !t->sealed.empty());
      }
      // Read as the quota script's answer: within what was asked, windows that end, usage >= 0.
      intg::shared::quota_params q;
      q.want = 8;
      if (auto a = intg::shared::parse_quota_reply(v, q)) {
        check(a->granted >= 0 && a->granted <= q.want && (a->granted > 0 || a->retry_after.count() > 0));
        for (const auto& p : a->periods) check(p.used >= 0 && p.resets_in.count() > 0);
      }
      // A string read as an announcement names a key and a generation, or nothing.
      if (auto e = intg::shared::parse_breaker_event(v.str())) check(!e->key.empty() && e->gen >= 0);
      for (auto c : v) {
        (void)c.as_int();
        (void)c.as_string();
        (void)c.as_pairs();
        (void)c.as_strings();
        (void)c.as_bool();
      }
      if (pending.empty()) break;
    }
  }
  return rendered;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = in.empty() ? 0 : (data[0] * in.size()) / 255;
  bool failed_whole = false, failed_split = false;
  const std::string whole = run(in, in.size(), failed_whole);
  const std::string split = run(in, cut, failed_split);
  check(failed_whole == failed_split);
  if (!failed_whole) check(whole == split);
  return 0;
}
