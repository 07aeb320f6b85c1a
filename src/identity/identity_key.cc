#include "identity/identity_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace engram::identity {
namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

Result<std::string> RandomHex(size_t bytes) {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::string raw(bytes, '\0');
  if (!urandom.read(raw.data(), static_cast<std::streamsize>(bytes))) {
    return Status::IOError("cannot read /dev/urandom");
  }
  return crypto::HexEncode(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

Status CheckLength(const std::string& secret, const std::string& source) {
  if (secret.size() < kMinIdentityKeyChars) {
    return Status::InvalidArgument(source + " holds " + std::to_string(secret.size()) +
                                   " characters; the identity key needs at least " +
                                   std::to_string(kMinIdentityKeyChars));
  }
  return Status::Ok();
}

// Writes a new key file with O_EXCL, so two servers starting at once cannot
// each make their own key: the loser reads the winner's.
Status CreateKeyFile(const std::string& path, const std::string& secret) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Status::Ok();
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  const std::string line = secret + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    ::unlink(path.c_str());
    return Status::IOError("cannot write " + path);
  }
  return Status::Ok();
}

}  // namespace

IdentityKey::IdentityKey(std::string secret, std::string source)
    : secret_(std::move(secret)), source_(std::move(source)) {
  key_id_ = Mac("key id", "").substr(0, 16);
}

std::shared_ptr<const IdentityKey> IdentityKey::FromSecret(std::string secret) {
  return std::shared_ptr<const IdentityKey>(new IdentityKey(std::move(secret), "test"));
}

Result<std::shared_ptr<const IdentityKey>> IdentityKey::Load(const std::string& data_dir,
                                                             bool create) {
  if (const char* env = std::getenv(kIdentityKeyEnv); env && *env) {
    std::string secret = Trimmed(env);
    ENGRAM_RETURN_IF_ERROR(CheckLength(secret, kIdentityKeyEnv));
    return std::shared_ptr<const IdentityKey>(new IdentityKey(std::move(secret), kIdentityKeyEnv));
  }
  const std::string path = data_dir + "/" + kIdentityKeyFile;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return Status::IOError("cannot stat " + path + ": " + std::strerror(errno));
    if (!create) {
      return Status::NotFound("no identity key: " + path + " is missing and " + kIdentityKeyEnv +
                              " is not set");
    }
    ENGRAM_ASSIGN_OR_RETURN(std::string fresh, RandomHex(32));
    ENGRAM_RETURN_IF_ERROR(CreateKeyFile(path, fresh));
  }
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = Trimmed(text.str());
  ENGRAM_RETURN_IF_ERROR(CheckLength(secret, path));
  return std::shared_ptr<const IdentityKey>(new IdentityKey(std::move(secret), path));
}

// Each use of the key MACs its own purpose, so a value made for one use
// (a user id) is never valid as another (a token, the key id).
std::string IdentityKey::Mac(std::string_view purpose, std::string_view message) const {
  std::string input = "engram ";
  input.append(purpose).append(" v1\n").append(message);
  return crypto::HexEncode(crypto::HmacSha256(secret_, input));
}

std::string IdentityKey::UserIdFor(std::string_view caller_id) const {
  return "u_" + Mac("user id", caller_id).substr(0, 20);
}

namespace {
// 128 bits of MAC: forging one is out of reach, and the token stays short.
constexpr size_t kTokenMacHex = 32;

std::string TokenMessage(std::string_view user_id, std::string_view expiry,
                         std::string_view nonce) {
  std::string m(user_id);
  m.append("\n").append(expiry).append("\n").append(nonce);
  return m;
}
}  // namespace

std::string IdentityKey::MintCallToken(std::string_view user_id, int64_t now_secs) const {
  const std::string expiry = std::to_string(now_secs + kCallTokenTtlSecs);
  auto nonce = RandomHex(8);
  // /dev/urandom does not fail in practice; a fixed nonce would still give a
  // valid (if repeatable) token, so no error path for the init webhook.
  const std::string n = nonce.ok() ? *nonce : std::string(16, '0');
  return "ct1." + expiry + "." + n + "." +
         Mac("call token", TokenMessage(user_id, expiry, n)).substr(0, kTokenMacHex);
}

Status IdentityKey::VerifyCallToken(std::string_view token, std::string_view user_id,
                                    int64_t now_secs) const {
  // ct1.<expiry>.<nonce>.<mac>
  std::string_view rest = token;
  if (!rest.starts_with("ct1.")) return Status::Forbidden("call_token is not an Engram token");
  rest.remove_prefix(4);
  const size_t dot1 = rest.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : rest.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return Status::Forbidden("call_token is malformed");
  const std::string_view expiry = rest.substr(0, dot1);
  const std::string_view nonce = rest.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view mac = rest.substr(dot2 + 1);
  if (expiry.empty() || expiry.size() > 18 ||
      expiry.find_first_not_of("0123456789") != std::string_view::npos || nonce.size() != 16) {
    return Status::Forbidden("call_token is malformed");
  }
  const std::string want =
      Mac("call token", TokenMessage(user_id, expiry, nonce)).substr(0, kTokenMacHex);
  if (!crypto::ConstantTimeEquals(mac, want)) {
    return Status::Forbidden("call_token was not issued for user '" + std::string(user_id) + "'");
  }
  if (std::stoll(std::string(expiry)) < now_secs)
    return Status::Forbidden("call_token has expired");
  return Status::Ok();
}

std::string LegacyUserId(std::string_view caller_id) {
  return "u_" + crypto::Sha256Hex(caller_id).substr(0, 20);
}

}  // namespace engram::identity
