// engram-bench-scale's shared declarations: the callers of a generated
// population (bench_scale_callers.cc) and the two phases, generate and query
// (bench_scale.cc). Why and how: bench_scale.cc; the whole measurement,
// server restarts and RSS included: tools/bench_scale.sh.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench_memory.h"

namespace engram::tools::scale_bench {

using memory_bench::CallerProfile;

// Caller `index` of a population (0-based): a distinct user id and phone
// number, a name, a business in one of several trades, and the handful of
// tools, places, people and cities that business talks about. The same
// (seed, index) always gives the same caller.
struct Caller {
  std::string user_id;
  CallerProfile profile;
  // Questions an agent's LLM could ask about this caller: the shared
  // support questions plus some naming the caller's own tools and places.
  std::vector<std::string> questions;
};

Caller MakeCaller(uint64_t seed, uint64_t index);

}  // namespace engram::tools::scale_bench
