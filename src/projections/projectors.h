// The projectors Engram runs, in the order they apply each event.
#pragma once

#include <memory>
#include <vector>

#include "projections/projector.h"

namespace engram::projections {

std::vector<std::unique_ptr<Projector>> MakeProjectors();

}  // namespace engram::projections
