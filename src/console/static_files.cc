#include "console/static_files.h"

#include "common/crypto.h"
#include "console/embedded_files.h"

namespace engram::console {

StaticFiles::StaticFiles() {
  for (size_t i = 0; i < kEmbeddedFileCount; ++i) {
    const EmbeddedFile& f = kEmbeddedFiles[i];
    std::string_view body(reinterpret_cast<const char*>(f.data), f.size);
    // 16 bytes of the hash: a strong validator that changes with every edit.
    // (Appended piece by piece: GCC 12 warns falsely on "\"" + string.)
    std::string etag(1, '"');
    etag.append(crypto::Sha256Hex(body), 0, 32).push_back('"');
    files_.emplace(f.name, StaticFile{body, ContentTypeFor(f.name), etag});
  }
}

const StaticFile* StaticFiles::Find(std::string_view name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : &it->second;
}

std::string StaticFiles::ContentTypeFor(std::string_view name) {
  struct Type {
    std::string_view ext, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const Type& t : kTypes) {
    if (name.ends_with(t.ext)) return std::string(t.type);
  }
  // Never sniffed (nosniff): a browser will not run it as script or style.
  return "application/octet-stream";
}

}  // namespace engram::console
