// Wiring an ElevenLabs agent to Engram: the configuration to set, and pushing
// it through the ElevenLabs REST API. (Being written.)
#pragma once
