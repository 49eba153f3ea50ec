// SignalNotifier under real-time signal queue overflow: with
// RLIMIT_SIGPENDING lowered, the kernel replaces the RT signals it cannot
// queue by one plain SIGIO; the notifier must then rescan and lose nothing.
#include "test_util.h"

#include <csignal>

#include <poll.h>
#include <sys/resource.h>

using namespace test;

namespace {

constexpr int pipes = 64;
constexpr rlim_t limit = 4;

struct LowerSigpending {
    rlimit saved{};
    LowerSigpending()
    {
        ::getrlimit(RLIMIT_SIGPENDING, &saved);
        rlimit low = saved;
        low.rlim_cur = limit;
        if (::setrlimit(RLIMIT_SIGPENDING, &low) < 0)
            fail_msg("setrlimit: %s", std::strerror(errno));
    }
    ~LowerSigpending() { ::setrlimit(RLIMIT_SIGPENDING, &saved); }
};

} // namespace

static void test_no_readiness_lost_when_rt_queue_overflows(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    std::vector<Pair> ps;
    std::vector<int> received(pipes, 0);
    for (int i = 0; i < pipes; ++i) {
        ps.push_back(make_pipe(O_NONBLOCK | O_CLOEXEC));
        const int fd = ps.back().a.get();
        n.add(fd, POLLIN, [fd, i, &received](short) {
            char buf[16];
            ssize_t r;
            while ((r = ::read(fd, buf, sizeof buf)) > 0)
                received[i] += static_cast<int>(r);
        });
    }
    loop.run_once(10ms); // the initial checks: nothing ready yet

    {
        LowerSigpending low;
        // No loop iteration in between: every signal stays pending, so
        // all but `limit` of the RT signals cannot be queued.
        for (int i = 0; i < pipes; ++i)
            assert_int_equal(::write(ps[i].b.get(), "x", 1), 1);
        int total = 0;
        assert_true(run_until(loop, [&] {
            total = 0;
            for (int r : received)
                total += r > 0;
            return total == pipes;
        }));
        assert_int_equal(total, pipes);
    }
    for (int r : received)
        assert_int_equal(r, 1);
    // The path under test was taken: at least one SIGIO rescan.
    assert_true(n.overflows() >= 1);

    // And after the overflow, plain RT delivery still works.
    const std::uint64_t rescans = n.overflows();
    assert_int_equal(::write(ps[7].b.get(), "yz", 2), 2);
    assert_true(run_until(loop, [&] { return received[7] == 3; }));
    assert_int_equal(n.overflows(), rescans);
}

int main()
{
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_no_readiness_lost_when_rt_queue_overflows),
    };
    return cmocka_run_group_tests_name("signal_overflow", tests, nullptr, nullptr);
}
