// engram-loadgen: drives a running `engram serve` and reports throughput and
// latency percentiles. Two modes:
//  --mode post-call (the default): signed ElevenLabs post-call webhooks
//    (POST /webhook/post-call) alone, closed or open loop; described first.
//  --mode calls: whole phone calls through all three routes, open loop, with
//    the projection queue watched through GET /metrics; described under
//    "Calls mode" below.
//
// Why: the server's promise is "every accepted webhook is durable" (a synced
// WAL write before the 200), and group commit is what keeps that promise
// cheap under concurrency. This tool measures what that costs end to end, so
// it can be compared with the bare-RocksDB limit (engram-bench-rocksdb).
//
// How:
//  - N connections, one thread each, each with its own keep-alive
//    engram::http::HttpConnection. Every connection is opened (GET /healthz)
//    before the timed part, so connects are not measured.
//  - Closed loop (--rate 0): a connection sends as soon as its previous answer
//    arrived. Open loop (--rate R): request i is due at t0 + i/R; whichever
//    connection is free takes the next due request, and its latency is counted
//    from the time it was due, not from when it was sent, so a stalled server
//    cannot hide its stall by slowing the sender (coordinated omission).
//  - Bodies are post_call_transcription documents shaped like
//    /work/shared/elevenlabs/post_call_transcription.json, about --body-bytes
//    each, built before the timed part. Each request gets a unique
//    data.conversation_id ("conv_<run id>_<index>"), so the server's
//    (type, conversation_id) deduplication never kicks in, and the random run
//    id keeps reruns against the same data dir from colliding. To keep memory
//    bounded for long runs, a pool of distinct documents is serialised once
//    with a fixed-width id slot; a request copies one and stamps its id into
//    the slot (a memcpy, far cheaper than the HMAC that follows).
//  - Each body is signed right before it is sent (ElevenLabs-Signature with
//    the current time), as ElevenLabs would.
//  - Only loopback targets are accepted: this is a load generator, and a typo
//    must not point it at someone else's server.
//
// Calls mode (--mode calls): whole phone calls through all three routes;
// described in loadgen_calls.cc.
// Exit status: 0 when every request (warm-up included) got a 200 (and, in
// calls mode, the queue drained within --drain-secs), 1 otherwise, 2 on bad
// arguments or when the server cannot be reached at all.
#include "loadgen.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>

int main(int argc, char** argv) {
  engram::tools::Flags flags;
  CLI::App app{
      "Send signed ElevenLabs post-call webhooks to a local engram server and report "
      "throughput and latency."};
  app.add_option("--url", flags.url,
                 "Server base URL, or several separated by commas (a cluster's nodes: "
                 "connection i goes to the i-th in turn; the first is watched); loopback "
                 "only (127.x.x.x, localhost, ::1)")
      ->capture_default_str();
  app.add_option("--secret", flags.secret, "Webhook HMAC secret (the server's)")
      ->envname("ENGRAM_WEBHOOK_SECRET");
  app.add_option("--connections", flags.connections, "Concurrent keep-alive connections")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  auto* requests =
      app.add_option("--requests", flags.requests,
                     "Measured requests; with --duration-secs, whichever limit comes first")
          ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000'000}))
          ->capture_default_str();
  app.add_option("--duration-secs", flags.duration_secs,
                 "Stop the measured part after this long (alone: no request limit)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--rate", flags.rate,
                 "Requests/s over all connections; 0 = closed loop (send when the previous "
                 "answer arrived)")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  app.add_option("--body-bytes", flags.body_bytes, "Approximate size of each webhook body")
      ->check(CLI::Range(size_t{1}, size_t{64} << 20))
      ->capture_default_str();
  app.add_option("--warmup", flags.warmup,
                 "Requests sent before the measured part, excluded from the statistics")
      ->capture_default_str();
  app.add_option("--timeout-ms", flags.timeout_ms, "Per-request timeout")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  app.add_flag("--json", flags.json, "Print one JSON object with the results on stdout");

  app.add_option("--mode", flags.mode,
                 "post-call: post-call webhooks alone; calls: whole calls (init, tool calls, "
                 "post-call) through all three routes")
      ->check(CLI::IsMember({"post-call", "calls"}))
      ->capture_default_str();
  const char* calls = "Calls mode (--mode calls)";
  app.add_option("--tool-secret", flags.tool_secret, "The memory routes' shared secret")
      ->envname("ENGRAM_TOOL_SECRET")
      ->group(calls);
  app.add_option("--tool-secret-header", flags.tool_secret_header,
                 "Header that carries the tool secret")
      ->capture_default_str()
      ->group(calls);
  app.add_option("--calls-per-sec", flags.calls_per_sec,
                 "Sustained call arrivals per second, for --duration-secs (or --calls)")
      ->check(CLI::Range(0.0, 1e5))
      ->group(calls);
  app.add_option("--calls", flags.calls, "Limit on the sustained calls")->group(calls);
  app.add_flag("--poisson", flags.poisson,
               "Sustained arrivals with exponential gaps instead of evenly spaced")
      ->group(calls);
  app.add_option("--burst-calls", flags.burst_calls, "Extra calls arriving in a burst")
      ->group(calls);
  app.add_option("--burst-secs", flags.burst_secs, "The burst's length")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--burst-at", flags.burst_at, "When the burst starts, seconds into the run")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--day-calls", flags.day_calls,
                 "Calls of one support-line day (hourly profile, clustered), time-compressed")
      ->group(calls);
  app.add_option("--day-compression", flags.day_compression,
                 "How many times faster than real time the day is played")
      ->check(CLI::Range(1.0, 1e7))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--call-secs", flags.call_secs,
                 "A call's length from init to post-call (0: 180 s / --day-compression with "
                 "--day-calls, else 2 s)")
      ->check(CLI::Range(0.0, 3600.0))
      ->group(calls);
  app.add_option("--tool-calls", flags.tool_calls, "Memory-tool calls per call")
      ->check(CLI::Range(0, 100))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--callers", flags.callers, "Distinct returning callers (phone numbers)")
      ->check(CLI::Range(1, engram::tools::kMaxCallers))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--turns", flags.turns, "Transcript turns per call (about)")
      ->check(CLI::Range(8, 400))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--seed", flags.seed, "Seed for arrivals, callers and transcripts")
      ->capture_default_str()
      ->group(calls);
  app.add_option("--scrape-ms", flags.scrape_ms, "How often GET /metrics is read during the load")
      ->check(CLI::Range(50, 60000))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--drain-secs", flags.drain_secs,
                 "How long to wait for the queue to empty after the load")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--keepup-secs", flags.keepup_secs,
                 "The queue kept up when it emptied within this long after the load")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str()
      ->group(calls);
  CLI11_PARSE(app, argc, argv);
  if (flags.mode == "calls") {
    for (const char* post_call_only : {"--requests", "--rate", "--body-bytes", "--warmup"}) {
      if (app.count(post_call_only) > 0) {
        std::cerr << "engram-loadgen: " << post_call_only << " is for --mode post-call\n";
        return 2;
      }
    }
    return engram::tools::MainCalls(flags);
  }
  return engram::tools::RunPostCalls(flags, requests->count() > 0);
}