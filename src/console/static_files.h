// The console's static files as HTTP answers: by name, with their content
// type and a strong ETag (a hash of the bytes, computed once). Immutable
// after construction, so thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace engram::console {

struct StaticFile {
  std::string_view body;  // points into the embedded table: lives as long as the process
  std::string content_type;
  std::string etag;  // "\"<sha256 hex prefix>\""
};

class StaticFiles {
 public:
  // Indexes the embedded table (embedded_files.h).
  StaticFiles();
  // The file named `name` ("index.html", "app.js"), or null.
  const StaticFile* Find(std::string_view name) const;
  // The content type for a file name, by its extension.
  static std::string ContentTypeFor(std::string_view name);

 private:
  std::map<std::string, StaticFile, std::less<>> files_;
};

}  // namespace engram::console
