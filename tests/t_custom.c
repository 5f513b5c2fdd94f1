#include "check.h"
TEST_MAIN()
