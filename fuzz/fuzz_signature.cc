// libFuzzer target: the ElevenLabs-Signature header parser and verifier.
// Input: "<header>\n<body>". Must never crash, hang or read out of bounds,
// and must never accept a header it did not compute.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/signature.h"

// OpenSSL creates its HMAC state lazily: do it before fuzzing, so the
// one-time allocation is not reported as a leak of the first input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)engram::http::ComputeSignature("warm", 1, "up");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t nl = input.find('\n');
  std::string header = input.substr(0, nl);
  std::string body = nl == std::string::npos ? "" : input.substr(nl + 1);
  (void)engram::http::ParseSignatureHeader(header);
  engram::Status s = engram::http::VerifySignature(header, body, "wsec_fuzz", 1'773'068'800);
  if (s.ok()) {
    // Only a header carrying the true MAC of this body may pass.
    auto parsed = engram::http::ParseSignatureHeader(header);
    if (!parsed.ok() ||
        parsed->v0 != engram::http::ComputeSignature("wsec_fuzz", parsed->timestamp, body)) {
      std::abort();
    }
  }
  return 0;
}
