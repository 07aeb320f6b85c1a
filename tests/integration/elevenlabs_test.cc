// engram elevenlabs config and push, against a local ElevenLabs stand-in. (Being written.)
#include <gtest/gtest.h>
