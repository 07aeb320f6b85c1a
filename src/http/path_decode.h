// Percent-decoding of one path segment (RFC 3986), for the ids the admin
// routes take from their path: /v1/users/%2B15125550147 names the caller
// +15125550147.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace engram::http {

// Decodes the %XX escapes of `segment` ('+' stays '+': it means a space only
// in query strings). InvalidArgument, naming `what`, for a malformed escape
// ("%", "%4", "%zz"), a decoded NUL or other control character (below 0x20,
// or 0x7f), or bytes that are not valid UTF-8. REQUIRES: `segment` was
// already split off the path at its raw '/', so a decoded "%2F" stays inside
// the id.
Result<std::string> DecodePathSegment(std::string_view segment, std::string_view what = "id");

// The inverse, for clients: every byte outside RFC 3986's unreserved set
// (A-Z a-z 0-9 - . _ ~) as %XX, so an id holding '/', '?', '#', '%' or a
// space stays one segment. DecodePathSegment(EncodePathSegment(s)) == s.
std::string EncodePathSegment(std::string_view segment);

}  // namespace engram::http
