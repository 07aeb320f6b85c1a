#include "projections/projectors.h"

#include "projections/conversation_projector.h"

namespace engram::projections {

std::vector<std::unique_ptr<Projector>> MakeProjectors(const MemoryEngineParts& memory) {
  std::vector<std::unique_ptr<Projector>> out;
  out.push_back(std::make_unique<ConversationProjector>(memory.identity_key));
  out.push_back(std::make_unique<MemoryProjector>(memory));
  return out;
}

}  // namespace engram::projections
