/* The test harness itself (run by tests/harness.sh): more cases than the old fixed
 * table held (512) must all be registered and run. 600 generated cases each count themselves; a destructor checks,
 * after main has run every case, that all 601 cases of this file were registered (an
 * older check.h dropped cases beyond 512 silently, so the binary passed with fewer). */
#include "check.h"

#define CHK_N_GENERATED 600

static int chk_ran;

#define CHK_CASE(id)                                                                    \
    TEST(gen_##id) {                                                                    \
        chk_ran++;                                                                      \
        CHECK(chk_ran >= 1);                                                            \
    }
#define CHK_10(p)                                                                       \
    CHK_CASE(p##0) CHK_CASE(p##1) CHK_CASE(p##2) CHK_CASE(p##3) CHK_CASE(p##4)          \
    CHK_CASE(p##5) CHK_CASE(p##6) CHK_CASE(p##7) CHK_CASE(p##8) CHK_CASE(p##9)
#define CHK_100(p)                                                                      \
    CHK_10(p##0) CHK_10(p##1) CHK_10(p##2) CHK_10(p##3) CHK_10(p##4)                    \
    CHK_10(p##5) CHK_10(p##6) CHK_10(p##7) CHK_10(p##8) CHK_10(p##9)

CHK_100(a)
CHK_100(b)
CHK_100(c)
CHK_100(d)
CHK_100(e)
CHK_100(f)

/* Every generated case plus this one is registered (order of registration is not fixed,
 * so this case may run before or after the others). */
TEST(all_cases_registered) { CHECK(check_ncases == CHK_N_GENERATED + 1); }

/* Runs after main: fails the binary if cases were dropped at registration, even if
 * all_cases_registered itself was among the dropped ones. */
__attribute__((destructor)) static void chk_verify(void) {
    if (check_ncases != CHK_N_GENERATED + 1) {
        printf("FAIL harness_registration: %d of %d cases registered\n", check_ncases,
               CHK_N_GENERATED + 1);
        fflush(stdout);
        _Exit(1);
    }
}

TEST_MAIN()
