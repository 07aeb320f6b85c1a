#include "projections/projectors.h"

#include "projections/conversation_projector.h"

namespace engram::projections {

std::vector<std::unique_ptr<Projector>> MakeProjectors() {
  std::vector<std::unique_ptr<Projector>> out;
  out.push_back(std::make_unique<ConversationProjector>());
  return out;
}

}  // namespace engram::projections
