// The thread-safe entry points (Loop::post, Loop::stop) under concurrent
// use, and the Loop's lifetime against threads still inside them. Written
// for ThreadSanitizer (build with -DASYNCDEV_SANITIZE=thread); also run
// plainly, under ASan/UBSan and under valgrind like every host test.
#include "test_util.h"

#include <atomic>
#include <memory>
#include <thread>

using namespace test;

namespace {

// TSan slows everything down ~10x: fewer rounds there, same coverage.
constexpr int rounds = ASYNCDEV_TSAN ? 300 : 2000;

} // namespace

// Several threads post at once while the loop runs: every callback runs
// exactly once, on the loop thread, and each thread's posts in order.
static void test_concurrent_posts_run_once_in_order(void**)
{
    asyncdev::Loop loop;
    constexpr int threads = 4, per_thread = 500;
    std::vector<int> last(threads, -1);
    int total = 0;
    bool in_order = true, on_loop = true;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i)
                loop.post([&, t, i] {
                    in_order = in_order && last[t] == i - 1;
                    on_loop = on_loop && loop.in_loop_thread();
                    last[t] = i;
                    ++total;
                });
        });
    assert_true(run_until(loop, [&] { return total == threads * per_thread; }, 30s));
    for (auto& t : ts)
        t.join();
    loop.run_once(0ms);
    assert_int_equal(total, threads * per_thread);
    assert_true(in_order);
    assert_true(on_loop);
}

// stop() from other threads while posts arrive: each run() returns, and
// nothing posted is lost or run twice.
static void test_stop_from_threads_while_posting(void**)
{
    asyncdev::Loop loop;
    std::atomic<bool> done{false};
    int ran = 0;
    int posted = 0;
    std::thread poster([&] {
        for (int i = 0; i < 1000; ++i)
            loop.post([&] { ++ran; });
        done.store(true);
    });
    int runs = 0;
    while (!done.load() || ran < 1000) {
        std::thread stopper([&] { loop.stop(); });
        loop.run();
        stopper.join();
        ++runs;
        // A stopper that ran before run() made it return without a turn:
        // take one, or a scheduler that always runs the stopper first
        // (valgrind's) would never let a callback run.
        loop.run_once(0ms);
    }
    poster.join();
    posted = 1000;
    loop.run_once(0ms);
    assert_int_equal(ran, posted);
    assert_true(runs >= 1);
}

// The Loop may be destroyed as soon as the loop thread has run what other
// threads posted, even if they have not yet returned from post(): post()
// must not touch the Loop once its callback can run. Two posters, so that
// one's wakeup can make the loop take the other's callback early.
static void test_destroy_loop_right_after_post_ran(void**)
{
    for (int i = 0; i < rounds; ++i) {
        auto loop = std::make_unique<asyncdev::Loop>();
        int ran = 0;
        auto poster = [&, l = loop.get()] { l->post([&] { ++ran; }); };
        std::thread a(poster), b(poster);
        while (ran < 2)
            loop->run_once(0ms);
        loop.reset();
        a.join();
        b.join();
    }
}

// Likewise for stop(): run() returning means stop() is done with the Loop.
static void test_destroy_loop_right_after_stop(void**)
{
    for (int i = 0; i < rounds; ++i) {
        auto loop = std::make_unique<asyncdev::Loop>();
        std::atomic<bool> go{false};
        std::thread t([&, l = loop.get()] {
            go.store(true);
            l->stop();
        });
        // Yield while waiting: valgrind runs one thread at a time and
        // switches only at a syscall or after ~100k basic blocks.
        while (!go.load())
            std::this_thread::yield();
        loop->run(); // may see the stop flag before stop()'s wakeup write
        loop.reset();
        t.join();
    }
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_posts_run_once_in_order),
        cmocka_unit_test(test_stop_from_threads_while_posting),
        cmocka_unit_test(test_destroy_loop_right_after_post_ran),
        cmocka_unit_test(test_destroy_loop_right_after_stop),
    };
    return cmocka_run_group_tests_name("threads", tests, nullptr, nullptr);
}
