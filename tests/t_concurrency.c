/* Concurrency tests (being written). */
#include "check.h"

TEST_MAIN()
