// ElevenLabs-Signature verification for post-call webhooks.
//
// Header: "t=<unix seconds>,v0=<64 lowercase hex>", parts found by prefix in
// any order, no trimming (as the official SDKs do). The MAC is
// HMAC-SHA256(secret, "<t>.<raw body bytes>"), compared in constant time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace engram::http {

struct SignatureHeader {
  int64_t timestamp = 0;  // t=, Unix seconds
  std::string v0;         // the whole "v0=<hex>" part
};

// Parses the header. InvalidArgument when t= or v0= is missing or t is not a number.
Result<SignatureHeader> ParseSignatureHeader(std::string_view header);

// "v0=" + hex HMAC of `body` signed at `timestamp`: what a sender puts in v0.
std::string ComputeSignature(std::string_view secret, int64_t timestamp, std::string_view body);
// A complete header value for `body`, as ElevenLabs would send it.
std::string SignatureHeaderValue(std::string_view secret, int64_t timestamp, std::string_view body);

struct SignaturePolicy {
  // How old a signature may be: the SDKs' 30 minutes.
  int64_t tolerance_secs = 30 * 60;
  // How far in the future t may be. The SDKs accept any future t; we allow the
  // same window as for the past, which covers clock skew but refuses a
  // signature minted to stay valid for days.
  int64_t max_future_secs = 30 * 60;
};

// What can be checked without the body: `header` parses and its timestamp is
// within `policy` at `now_secs`. Unauthorized (with the reason) otherwise. The
// server asks this before it reads a post-call's body.
Result<SignatureHeader> CheckSignatureHead(std::string_view header, int64_t now_secs,
                                           const SignaturePolicy& policy = {});

// OK when `header` is a valid signature of `body` under `secret` at `now_secs`.
// Unauthorized (with the reason) otherwise.
Status VerifySignature(std::string_view header, std::string_view body, std::string_view secret,
                       int64_t now_secs, const SignaturePolicy& policy = {});

}  // namespace engram::http
