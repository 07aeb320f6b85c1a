// The layers of src/ (docs/ARCHITECTURE.md, "Layers"), checked on the
// sources themselves. The build already refuses most wrong-way includes (each
// folder's headers are reachable only by the targets that link it), but not
// the system headers that need no include directory (<sqlite3.h>,
// <rocksdb/db.h>, <curl/curl.h>), and not a CMakeLists.txt that links one
// folder too many. This test reads every #include under src/ and holds it to
// the table below, so such a slip fails the suite too.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;

// Which folders each folder of src/ may include, lowest layer first. A folder
// lists everything it may reach, not only the layer just below it, so the
// table reads as the answer to "may X include Y?". Keep it in step with the
// target_link_libraries of src/*/CMakeLists.txt.
const std::map<std::string, std::set<std::string>>& Layers() {
  static const std::map<std::string, std::set<std::string>> kLayers = {
      {"common", {}},
      {"log", {"common"}},
      {"nats_log", {"common", "log"}},  // issue 13: the JetStream event log
      {"identity", {"common", "log"}},
      {"http_client", {"common"}},
      {"memory", {"common", "http_client"}},
      {"projections", {"common", "log", "identity", "http_client", "memory"}},
      {"elevenlabs", {"common", "http_client", "memory"}},
      {"replay", {"common", "log", "identity", "http_client", "memory", "projections"}},
      {"http", {"common", "log", "identity", "http_client", "memory", "projections", "replay"}},
      // issue 15: the web console, reached through http::Services::console.
      {"console",
       {"common", "log", "identity", "http_client", "memory", "projections", "replay", "http"}},
      {"keys", {"common", "log"}},
      // What `engram serve` runs, wired once (src/app/application.h).
      {"app",
       {"common", "log", "nats_log", "identity", "http_client", "memory", "projections", "replay",
        "http", "console", "keys"}},
      {"cli",
       {"common", "log", "nats_log", "identity", "http_client", "memory", "projections",
        "elevenlabs", "replay", "http", "console", "keys", "app"}},
  };
  return kLayers;
}

// External headers that belong to one adapter: an include starting with the
// prefix is allowed only in the folders listed. Everything else (the standard
// library, nlohmann::json, spdlog) is vocabulary any folder may use.
const std::vector<std::pair<std::string, std::set<std::string>>>& AdapterHeaders() {
  static const std::vector<std::pair<std::string, std::set<std::string>>> kHeaders = {
      {"rocksdb/", {"log"}},
      {"sqlite3.h", {"projections", "keys"}},   // the read model; DATA_DIR/keys.db
      {"pqxx/", {"projections"}},               // issue 13: the PostgreSQL read model
      {"libpq-fe.h", {"projections", "keys"}},  // the read model; the keys shared beside it
      {"postgresql/", {"projections"}},
      {"nats.h", {"nats_log"}},
      {"nats/", {"nats_log"}},
      {"curl/", {"http_client"}},
      {"boost/", {"http"}},  // Beast: the server and its test client
      {"Eigen/", {"memory"}},
      {"unsupported/Eigen/", {"memory"}},
      {"unicode/", {"memory"}},  // ICU
      {"phonenumbers/", {"identity"}},
      {"openssl/", {"common", "keys"}},  // hashes and HMAC; the data keys' AEAD
      {"simdjson",
       {"common", "http", "keys", "replay"}},  // the post-call route's parser; audit scans
      {"CLI/", {"cli"}},
  };
  return kHeaders;
}

struct Include {
  std::string file;  // relative to the scanned root's parent, e.g. "src/memory/recall.cc"
  int line = 0;
  std::string target;  // what is included, e.g. "http/server.h"
};

std::vector<Include> ReadIncludes(const fs::path& file, const std::string& shown) {
  static const std::regex kInclude(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::vector<Include> out;
  std::ifstream in(file);
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    std::smatch m;
    if (std::regex_search(text, m, kInclude)) out.push_back({shown, n, m[1].str()});
  }
  return out;
}

std::string Join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "nothing" : out;
}

// Every wrong-way include under `src` (a folder laid out like the repo's
// src/), one readable line each; empty when the layers hold.
std::vector<std::string> LayeringViolations(const fs::path& src) {
  std::vector<std::string> violations;
  std::set<std::string> folders;
  for (const auto& entry : fs::directory_iterator(src)) {
    if (entry.is_directory()) folders.insert(entry.path().filename().string());
  }
  for (const auto& folder : folders) {
    auto layer = Layers().find(folder);
    if (layer == Layers().end()) {
      violations.push_back("src/" + folder +
                           " is not in the layering table (tests/unit/layering_test.cc): "
                           "add it with the folders it may include");
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(src / folder)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".h" || ext == ".cc" || ext == ".hpp")) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const std::string shown = "src/" + fs::relative(file, src).string();
      for (const auto& inc : ReadIncludes(file, shown)) {
        const std::string where =
            inc.file + ":" + std::to_string(inc.line) + " includes " + inc.target + ": ";
        const auto slash = inc.target.find('/');
        const std::string first = inc.target.substr(0, slash);
        if (slash != std::string::npos && folders.count(first) && first != folder &&
            !layer->second.count(first)) {
          violations.push_back(where + folder + " may include only " + Join(layer->second));
        }
        for (const auto& [prefix, owners] : AdapterHeaders()) {
          if (inc.target.rfind(prefix, 0) == 0 && !owners.count(folder)) {
            violations.push_back(where + "that library belongs to " + Join(owners));
          }
        }
      }
    }
  }
  return violations;
}

std::string Lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST(Layering, NoIncludeCrossesALayerUpwards) {
  const fs::path src = fs::path(ENGRAM_SOURCE_DIR) / "src";
  ASSERT_TRUE(fs::is_directory(src)) << src;
  const auto violations = LayeringViolations(src);
  EXPECT_TRUE(violations.empty()) << Lines(violations);
}

TEST(Layering, TheTableHasNoCycle) {
  // A layering only if no folder can reach itself through what it may
  // include; every name it lists must be in the table too.
  for (const auto& [start, below] : Layers()) {
    std::set<std::string> seen;
    std::vector<std::string> todo(below.begin(), below.end());
    while (!todo.empty()) {
      const std::string folder = todo.back();
      todo.pop_back();
      ASSERT_TRUE(Layers().count(folder))
          << folder << " (below " << start << ") is not in the table";
      ASSERT_NE(folder, start) << start << " can reach itself";
      if (seen.insert(folder).second) {
        for (const auto& next : Layers().at(folder)) todo.push_back(next);
      }
    }
  }
}

// The checker itself: a wrong-way include, an adapter's header in the wrong
// folder and an unknown folder are each reported; allowed ones are not.
TEST(Layering, ReportsWrongWayIncludesAdapterHeadersAndUnknownFolders) {
  engram::testing::TempDir dir;
  const fs::path src = fs::path(dir.path()) / "src";
  Write(src / "common/status.h", "#pragma once\n#include <string>\n");
  Write(src / "http/server.h", "#pragma once\n#include \"common/status.h\"\n");
  Write(src / "memory/recall.h",
        "#pragma once\n#include \"common/status.h\"\n#include \"http_client/x.h\"\n");
  Write(src / "http_client/x.h", "#pragma once\n");
  EXPECT_TRUE(LayeringViolations(src).empty()) << Lines(LayeringViolations(src));

  Write(src / "memory/recall.cc",
        "#include \"memory/recall.h\"\n"
        "// #include \"http/server.h\" in a comment is not an include\n"
        "  #  include \"http/server.h\"\n"
        "#include <sqlite3.h>\n");
  Write(src / "shiny/new.cc", "#include \"common/status.h\"\n");
  const auto violations = LayeringViolations(src);
  ASSERT_EQ(violations.size(), 3u) << Lines(violations);
  const std::string all = Lines(violations);
  EXPECT_NE(all.find("src/memory/recall.cc:3 includes http/server.h: memory may include only "
                     "common, http_client"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("src/memory/recall.cc:4 includes sqlite3.h: that library belongs to keys, "
                     "projections"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("src/shiny is not in the layering table"), std::string::npos) << all;
}

}  // namespace
