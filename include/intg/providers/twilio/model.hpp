// Twilio Programmable Messaging objects and parameters (API 2010-04-01), declared once with
// Boost.Describe; intg::rest decodes and form-encodes them. Parameter members carry Twilio's own
// PascalCase names (To, From, Body), as its form fields are named; the resource's fields are
// snake_case and nullable, as in Twilio's OpenAPI description.
#pragma once

#include <boost/describe.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace intg::twilio {

using opt_string = std::optional<std::string>;

/// A Message resource. Counts and prices are strings in Twilio's JSON ("1", "-0.00750").
struct message {
  opt_string sid{}, account_sid{}, messaging_service_sid{}, from{}, to{}, body{}, status{}, direction{};
  opt_string num_segments{}, num_media{}, price{}, price_unit{}, error_message{}, uri{}, api_version{};
  opt_string date_created{}, date_updated{}, date_sent{};  ///< RFC 2822 ("Fri, 24 May 2019 17:44:46 +0000")
  std::optional<std::int64_t> error_code{};
  std::optional<std::map<std::string, std::string>> subresource_uris{};
};
BOOST_DESCRIBE_STRUCT(message, (), (sid, account_sid, messaging_service_sid, from, to, body, status, direction, num_segments,
                                    num_media, price, price_unit, error_message, uri, api_version, date_created, date_updated,
                                    date_sent, error_code, subresource_uris))

/// POST /Messages.json: `To`, and `From` or `MessagingServiceSid`, and `Body`, `MediaUrl` or
/// `ContentSid`. `StatusCallback` is where Twilio posts the delivery status (signed: verify it with
/// intg::webhook::verify_twilio).
struct send_params {
  std::string To{};
  opt_string From{}, MessagingServiceSid{}, Body{}, MediaUrl{}, ContentSid{}, ContentVariables{}, StatusCallback{};
  opt_string ScheduleType{}, SendAt{};  ///< "fixed" and an ISO 8601 time: a scheduled message
  std::optional<std::int64_t> ValidityPeriod{};
};
BOOST_DESCRIBE_STRUCT(send_params, (), (To, From, MessagingServiceSid, Body, MediaUrl, ContentSid, ContentVariables, StatusCallback,
                                        ScheduleType, SendAt, ValidityPeriod))

/// POST /Messages/{Sid}.json: `Body = ""` redacts a sent message's body; `Status = "canceled"`
/// cancels a scheduled one.
struct update_params {
  opt_string Body{}, Status{};
};
BOOST_DESCRIBE_STRUCT(update_params, (), (Body, Status))

/// GET /Messages.json filters; PageSize 1..1000 (Twilio's default 50). The kit follows
/// `next_page_uri` from there.
struct list_params {
  opt_string To{}, From{}, DateSent{};
  std::optional<std::int64_t> PageSize{};
};
BOOST_DESCRIBE_STRUCT(list_params, (), (To, From, DateSent, PageSize))

}  // namespace intg::twilio
