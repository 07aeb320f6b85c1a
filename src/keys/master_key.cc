#include "keys/master_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace engram::keys {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Status::IOError("open " + dir + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync " + dir + ": " + std::strerror(errno));
  return Status::Ok();
}

namespace {

Result<SecretKey> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read the master key file " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  auto key = ParseMasterKey(s);
  OPENSSL_cleanse(s.data(), s.size());
  if (!key.ok()) return Status::InvalidArgument(path + ": " + key.status().message());
  return key;
}

}  // namespace

Result<SecretKey> ParseMasterKey(std::string_view text) {
  text = Trim(text);
  SecretKey key;
  if (text.size() == 2 * kKeyBytes) {
    for (size_t i = 0; i < kKeyBytes; ++i) {
      int hi = crypto::HexDigitValue(text[2 * i]), lo = crypto::HexDigitValue(text[2 * i + 1]);
      if (hi < 0 || lo < 0) return Status::InvalidArgument("master key: not hex");
      key.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return key;
  }
  std::string raw;
  if (crypto::Base64Decode(text, &raw) && raw.size() == kKeyBytes) {
    std::memcpy(key.bytes.data(), raw.data(), kKeyBytes);
    OPENSSL_cleanse(raw.data(), raw.size());
    return key;
  }
  OPENSSL_cleanse(raw.data(), raw.size());
  return Status::InvalidArgument(
      "a master key is 32 bytes written as 64 hex digits or 44 base64 characters (make one "
      "with `openssl rand -hex 32`)");
}

Status WriteKeyFile(const std::string& path, const SecretKey& key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("create " + path + ": " + std::strerror(errno));
  std::string hex = crypto::HexEncode(key.bytes.data(), key.bytes.size()) + "\n";
  bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size());
  ok = ok && ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
  OPENSSL_cleanse(hex.data(), hex.size());
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Status::IOError("write " + path + ": " + std::strerror(errno));
  }
  return SyncDirectory(std::filesystem::path(path).parent_path().string());
}

Result<MasterKey> LoadMasterKey(const std::string& data_dir, const std::string& key_file,
                                bool create) {
  MasterKey out;
  if (const char* env = std::getenv(kMasterKeyEnv); env && *env) {
    auto key = ParseMasterKey(env);
    if (!key.ok())
      return Status::InvalidArgument(std::string(kMasterKeyEnv) + ": " + key.status().message());
    out.key = *key;
    out.source = kMasterKeyEnv;
    return out;
  }
  const std::string path = key_file.empty() ? data_dir + "/" + kMasterKeyFile : key_file;
  if (std::filesystem::exists(path)) {
    ENGRAM_ASSIGN_OR_RETURN(out.key, ReadKeyFile(path));
    out.source = path;
    return out;
  }
  if (!key_file.empty()) return Status::NotFound("no master key file at " + key_file);
  if (!create) {
    return Status::NotFound("no master key: set " + std::string(kMasterKeyEnv) +
                            ", pass --master-key-file, or keep " + path);
  }
  ENGRAM_ASSIGN_OR_RETURN(out.key, NewSecretKey());
  ENGRAM_RETURN_IF_ERROR(WriteKeyFile(path, out.key));
  out.source = path;
  out.created = true;
  return out;
}

}  // namespace engram::keys
