// The ElevenLabs API as far as `engram elevenlabs push` uses it, on
// 127.0.0.1 port 0, for the elevenlabs tests. Stores tools and agents in
// memory and answers like the real one: {"detail": ...} errors, a paged tool
// list, defaults filled into what it stores, agents patched by merge. Every
// shape violation it sees is recorded in violations() and answered 422, so a
// test can assert there were none. Thread-safe.
//
// Checked against ../shared/elevenlabs/README.md (tools) and ElevenLabs'
// generated SDK types (platform_settings.data_collection:
// src/elevenlabs/data_collection.h cites them).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "http/server.h"

namespace engram::testing {

// The stand-in's API key, its one agent, and the agent's own other tool.
inline constexpr char kElevenLabsKey[] = "el-test-key";
inline constexpr char kElevenLabsAgent[] = "agent_test_1";
inline constexpr char kElevenLabsOtherTool[] = "tool_calendar";

// A tool name as ElevenLabs accepts it: ^[a-zA-Z0-9_-]{1,64}$.
bool ValidElevenLabsToolName(const std::string& name);

class ElevenLabsStandIn {
 public:
  using json = nlohmann::json;

  // Starts listening; throws if it cannot. The agent kElevenLabsAgent exists
  // with a prompt, kElevenLabsOtherTool, a placeholder of its own, some
  // platform settings and no data collection.
  ElevenLabsStandIn();
  ~ElevenLabsStandIn();

  std::string base_url() const;

  struct Counts {
    int tool_posts = 0, tool_patches = 0, agent_patches = 0, reads = 0, unauthorized = 0;
    int writes() const { return tool_posts + tool_patches + agent_patches; }
  };
  Counts counts();
  std::vector<std::string> violations();
  std::vector<std::string> requests();
  // The bodies of the agent PATCHes received, in order.
  std::vector<json> agent_patch_bodies();
  json agent(const std::string& id = kElevenLabsAgent);
  // The stored config of tool `id`, or null.
  json tool(const std::string& id);
  std::vector<std::string> ToolIdsNamed(const std::string& name);
  // Changes made "in the dashboard", not counted as writes.
  void EditAgent(const std::function<void(json&)>& edit);
  void EditTool(const std::string& id, const std::function<void(json&)>& edit);
  std::string AddTool(json config);
  void set_page_size(size_t n);
  // The next write is answered with this status (0: none).
  void FailNextWrite(int status);

 private:
  http::HttpResponse Reject(const std::vector<std::string>& problems);
  std::vector<std::string> AgentPatchProblems(const json& body);
  http::HttpResponse Handle(const http::HttpRequest& r);
  http::HttpResponse ListTools(const http::HttpRequest& r);

  std::mutex mu_;
  std::vector<std::pair<std::string, json>> tools_;  // in creation order
  std::map<std::string, json> agents_;
  Counts counts_;
  std::vector<std::string> violations_;
  std::vector<std::string> requests_;
  std::vector<json> agent_patch_bodies_;
  size_t page_size_ = 100;
  int next_id_ = 0;
  int fail_next_write_ = 0;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace engram::testing
