#include "elevenlabs/agent_setup.h"
