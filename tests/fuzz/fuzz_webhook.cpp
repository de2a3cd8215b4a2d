// libFuzzer target: the Stripe, Slack, Twilio and "sha256=" header parsers and verifiers turn any
// header (and, for Twilio, any URL) into a value or an error, never a crash; a header signed for
// the payload verifies.
#include <intg/security/webhook.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto split = in.find('\n');
  const std::string_view header = in.substr(0, split);
  const std::string_view body = split == std::string_view::npos ? std::string_view{} : in.substr(split + 1);
  const auto now = std::chrono::sys_seconds{std::chrono::seconds{1700000000}};
  (void)intg::webhook::parse_stripe_signature(header);
  (void)intg::webhook::verify_stripe(body, header, "whsec_fuzz", now);
  (void)intg::webhook::verify_hmac_sha256(body, header, "fuzz");
  if (!intg::webhook::verify_stripe(body, intg::webhook::sign_stripe(body, "whsec_fuzz", now), "whsec_fuzz", now))
    std::abort();
  (void)intg::webhook::verify_slack(body, "1700000000", header, "fuzz", now);
  // Twilio: the body's first line as the URL, the header as the signature, the rest as one parameter.
  const auto nl = body.find('\n');
  const std::string_view url = body.substr(0, nl);
  const intg::webhook::twilio_params params{{"Body", std::string(nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1))}};
  (void)intg::webhook::verify_twilio(url, params, header, "fuzz");
  (void)intg::webhook::verify_twilio_body(url, body, header, "fuzz");
  if (!intg::webhook::verify_twilio(url, params, intg::webhook::sign_twilio(url, params, "fuzz"), "fuzz")) std::abort();
  return 0;
}
