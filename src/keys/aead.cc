#include "keys/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

namespace engram::keys {
namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

SecretKey::~SecretKey() { OPENSSL_cleanse(bytes.data(), bytes.size()); }

Status RandomBytes(uint8_t* out, size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    return Status::IOError("the random number generator failed");
  }
  return Status::Ok();
}

Result<SecretKey> NewSecretKey() {
  SecretKey key;
  ENGRAM_RETURN_IF_ERROR(RandomBytes(key.bytes.data(), key.bytes.size()));
  return key;
}

Result<std::string> GcmSeal(const SecretKey& key, std::string_view aad,
                            std::string_view plaintext) {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  ENGRAM_RETURN_IF_ERROR(RandomBytes(nonce, kNonceBytes));
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* ct = nonce + kNonceBytes;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), nonce) != 1 ||
      (!aad.empty() &&
       EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, U(plaintext), static_cast<int>(plaintext.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, ct + plaintext.size()) != 1) {
    return Status::Internal("AES-256-GCM encryption failed");
  }
  return out;
}

Result<std::string> GcmOpen(const SecretKey& key, std::string_view aad, std::string_view sealed) {
  if (sealed.size() < kSealOverhead) return Status::Corruption("sealed data is truncated");
  const size_t n = sealed.size() - kSealOverhead;
  std::string out(n, '\0');
  auto* pt = reinterpret_cast<unsigned char*>(out.data());
  const unsigned char* nonce = U(sealed);
  const unsigned char* ct = nonce + kNonceBytes;
  std::string tag(sealed.substr(kNonceBytes + n));
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), nonce) != 1 ||
      (!aad.empty() &&
       EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx.get(), pt, &len, ct, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1) {
    return Status::Internal("AES-256-GCM decryption failed to start");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), pt + len, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::Corruption("authentication tag does not verify (wrong key or changed bytes)");
  }
  return out;
}

}  // namespace engram::keys
