// engram elevenlabs config | push
//
// config prints, as JSON, everything to set in ElevenLabs for an agent to
// use Engram (docs/ELEVENLABS.md walks through it), data-collection items
// included (--data-collection FILE adds or overrides some). push creates or
// updates the query_user_memory tool through the ElevenLabs REST API and
// patches the agent, adding the items it lacks; a second push changes
// nothing.
//
// Exit codes: 0 done, 1 the API refused or could not be reached, 2 usage
// (missing or bad flags, no ELEVENLABS_API_KEY).
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "elevenlabs/agent_setup.h"
#include "http_client/http_client.h"

namespace engram::cli {
namespace {

struct ElevenLabsFlags {
  std::string public_url;
  std::string tool_secret_id;
  std::string tool_secret_header = "X-Engram-Secret";
  bool inline_secret = false;
  std::string prompt_file;
  std::string data_collection_file;
  int response_timeout_secs = 10;
  std::string agent_id;
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Flags to SetupOptions; false (message printed) on a usage error.
bool BuildOptions(const ElevenLabsFlags& flags, const char* command,
                  elevenlabs::SetupOptions* out) {
  if (flags.public_url.empty()) {
    std::cerr << "engram elevenlabs " << command
              << ": --public-url is required (where ElevenLabs reaches this server, e.g. "
                 "https://memory.example.com)\n";
    return false;
  }
  out->public_url = flags.public_url;
  out->tool_secret_id = flags.tool_secret_id;
  out->tool_secret_header = flags.tool_secret_header;
  out->response_timeout_secs = flags.response_timeout_secs;
  if (flags.inline_secret) {
    out->inline_secret = Env("ENGRAM_TOOL_SECRET");
    if (out->inline_secret.empty()) {
      std::cerr << "engram elevenlabs " << command
                << ": --inline-secret needs ENGRAM_TOOL_SECRET in the environment\n";
      return false;
    }
    std::cerr << "warning: --inline-secret writes ENGRAM_TOOL_SECRET literally into the agent's "
                 "tool and webhook headers, where anyone who can read the agent's configuration "
                 "sees it. Use a workspace secret (--tool-secret-id) for anything but a quick "
                 "test.\n";
  }
  if (!flags.prompt_file.empty()) {
    std::ifstream in(flags.prompt_file, std::ios::binary);
    if (!in) {
      std::cerr << "engram elevenlabs " << command << ": cannot read " << flags.prompt_file << "\n";
      return false;
    }
    std::stringstream text;
    text << in.rdbuf();
    out->prompt = text.str();
    while (!out->prompt.empty() && (out->prompt.back() == '\n' || out->prompt.back() == ' ')) {
      out->prompt.pop_back();
    }
    if (out->prompt.empty()) {
      std::cerr << "engram elevenlabs " << command << ": " << flags.prompt_file << " is empty\n";
      return false;
    }
  }
  if (!flags.data_collection_file.empty()) {
    // Read at most one byte past the limit: the parser refuses the rest.
    std::ifstream in(flags.data_collection_file, std::ios::binary);
    if (!in) {
      std::cerr << "engram elevenlabs " << command << ": cannot read " << flags.data_collection_file
                << "\n";
      return false;
    }
    std::string text(elevenlabs::kMaxDataCollectionFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    auto extra = elevenlabs::ParseDataCollectionFile(text, flags.data_collection_file);
    Result<elevenlabs::Json> items =
        extra.ok() ? elevenlabs::CombineDataCollection(out->data_collection, *extra)
                   : Result<elevenlabs::Json>(extra.status());
    if (!items.ok()) {
      std::cerr << "engram elevenlabs " << command << ": " << items.status().message() << "\n";
      return false;
    }
    out->data_collection = std::move(*items);
  }
  if (Status s = elevenlabs::Validate(*out); !s.ok()) {
    std::cerr << "engram elevenlabs " << command << ": " << s.message() << "\n";
    return false;
  }
  return true;
}

int Config(const ElevenLabsFlags& flags) {
  elevenlabs::SetupOptions options;
  if (!BuildOptions(flags, "config", &options)) return 2;
  if (options.inline_secret.empty() && options.tool_secret_id.empty()) {
    std::cerr << "note: no --tool-secret-id; the secret headers reference "
              << elevenlabs::kSecretIdPlaceholder
              << ". Create a workspace secret holding ENGRAM_TOOL_SECRET and pass its id.\n";
  }
  std::cout << elevenlabs::SetupConfig(options).dump(2) << "\n";
  return 0;
}

int Push(const ElevenLabsFlags& flags) {
  elevenlabs::SetupOptions options;
  if (!BuildOptions(flags, "push", &options)) return 2;
  elevenlabs::ApiEndpoint api;
  api.api_key = Env("ELEVENLABS_API_KEY");
  if (std::string base = Env("ELEVENLABS_API_BASE"); !base.empty()) api.base_url = base;
  if (Status s = elevenlabs::ValidatePush(api, flags.agent_id, options); !s.ok()) {
    std::cerr << "engram elevenlabs push: " << s.message() << "\n";
    return 2;
  }
  auto client = http::MakeCurlHttpClient();
  auto result = elevenlabs::Push(*client, api, flags.agent_id, options);
  if (!result.ok()) {
    std::cerr << "engram elevenlabs push: " << result.status().ToString() << "\n";
    return 1;
  }
  for (const std::string& line : result->Lines()) std::cout << line << "\n";
  return 0;
}

void AddSetupFlags(CLI::App* cmd, ElevenLabsFlags* flags) {
  cmd->add_option("--public-url", flags->public_url,
                  "Where ElevenLabs reaches this server (https://HOST[:PORT][/PREFIX])");
  cmd->add_option("--tool-secret-id", flags->tool_secret_id,
                  "Id of the ElevenLabs workspace secret holding ENGRAM_TOOL_SECRET");
  cmd->add_flag("--inline-secret", flags->inline_secret,
                "Put ENGRAM_TOOL_SECRET literally into the headers (quick tests only)");
  cmd->add_option("--tool-secret-header", flags->tool_secret_header,
                  "The header `engram serve --tool-secret-header` checks")
      ->capture_default_str();
  cmd->add_option("--prompt-file", flags->prompt_file,
                  "The agent's system prompt (default: Engram's, see `config`)");
  cmd->add_option("--data-collection", flags->data_collection_file,
                  "JSON file of data-collection items to add to or override Engram's defaults: "
                  "{\"id\": {\"type\", \"description\"}} or a list of {\"id\", ...}");
  cmd->add_option("--response-timeout-secs", flags->response_timeout_secs,
                  "How long ElevenLabs waits for the memory tool (5..120)")
      ->capture_default_str();
}

}  // namespace

void RegisterElevenLabs(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ElevenLabsFlags>();
  auto* cmd = app.add_subcommand("elevenlabs", "Set up an ElevenLabs agent to use Engram");
  cmd->require_subcommand(1);

  auto* config = cmd->add_subcommand("config", "Print, as JSON, everything to set in ElevenLabs");
  AddSetupFlags(config, flags.get());
  config->callback([flags, exit_code] { *exit_code = Config(*flags); });

  auto* push = cmd->add_subcommand(
      "push",
      "Create or update the query_user_memory tool and patch the agent through the ElevenLabs "
      "API (ELEVENLABS_API_KEY; ELEVENLABS_API_BASE overrides https://api.elevenlabs.io)");
  AddSetupFlags(push, flags.get());
  push->add_option("--agent-id", flags->agent_id, "The agent to patch");
  push->callback([flags, exit_code] { *exit_code = Push(*flags); });
}

}  // namespace engram::cli
