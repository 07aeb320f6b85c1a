// The projectors Engram runs, in the order they apply each event: the
// conversation projector first, so the memory projector sees the
// conversation and user rows of the same event.
#pragma once

#include <memory>
#include <vector>

#include "projections/memory_projector.h"
#include "projections/projector.h"

namespace engram::projections {

std::vector<std::unique_ptr<Projector>> MakeProjectors(const MemoryEngineParts& memory);

}  // namespace engram::projections
