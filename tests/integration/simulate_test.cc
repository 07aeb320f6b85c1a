// engram simulate over the fixture calls. (Being written.)
#include <gtest/gtest.h>
