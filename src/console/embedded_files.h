// The web console's static files, compiled into the binary: a table written
// at build time by cmake/embed_files.cmake from web/console/* and uPlot's
// two files from npm (src/console/CMakeLists.txt).
#pragma once

#include <cstddef>

namespace engram::console {

struct EmbeddedFile {
  const char* name;  // the file's base name, e.g. "app.js"
  const unsigned char* data;
  size_t size;
};

// kEmbeddedFileCount entries, then one {nullptr, nullptr, 0}.
extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

}  // namespace engram::console
