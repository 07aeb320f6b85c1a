#include "projections/projectors.h"

#include "projections/conversation_projector.h"

namespace engram::projections {

std::vector<std::unique_ptr<Projector>> MakeProjectors(const MemoryEngineParts& memory) {
  std::vector<std::unique_ptr<Projector>> out;
  // One parse of each body for both (parsed_bodies.h); a set of projectors
  // runs on one thread, so the two share it and nobody else does.
  auto bodies = std::make_shared<ParsedBodies>();
  out.push_back(std::make_unique<ConversationProjector>(memory.identity_key, bodies));
  out.push_back(std::make_unique<MemoryProjector>(memory, bodies));
  return out;
}

}  // namespace engram::projections
