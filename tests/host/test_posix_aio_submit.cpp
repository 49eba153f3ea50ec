// PosixAio submission, cancellation and use as an IoEngine.
//
// Submission failures are injected by interposing aio_read, aio_write and
// lio_listio (this executable's definitions win over glibc's for
// libasyncdev). A refused enqueue behaves exactly as glibc's does when
// __aio_enqueue_request cannot get a request element (get_elem() == NULL,
// out of memory): -1 with errno EAGAIN, the aiocb left as the caller
// prepared it (its error status is not set). The lio_listio stand-in
// enqueues each entry with aio_read/aio_write, as glibc's does (LIO_NOWAIT
// keeps each aiocb's own notification), and returns -1 with that errno if
// any entry was refused.
#include "test_util.h"

#include <atomic>
#include <memory>
#include <thread>

#include <aio.h>
#include <dlfcn.h>

using namespace test;

namespace {

std::atomic<int> attempts{0};  // enqueue attempts since arm()
std::atomic<int> refuse_at{-1}; // attempt to refuse (-1: none; -2: every one)
std::atomic<int> refuse_errno{EAGAIN};

void arm(int at, int err = EAGAIN)
{
    attempts = 0;
    refuse_errno = err;
    refuse_at = at;
}
void disarm() { refuse_at = -1; }

bool refuse(struct aiocb* cb)
{
    const int n = attempts.fetch_add(1);
    const int at = refuse_at.load();
    if (at != -2 && at != n)
        return false;
    const int err = refuse_errno.load();
    if (err != EAGAIN) {
        // glibc's argument check (aio_reqprio): the error status is set.
        cb->__error_code = err;
        cb->__return_value = -1;
    }
    errno = err;
    return true;
}

using AioFn = int (*)(struct aiocb*);
AioFn next_fn(const char* name)
{
    auto f = reinterpret_cast<AioFn>(::dlsym(RTLD_NEXT, name));
    if (!f)
        std::abort();
    return f;
}

} // namespace

extern "C" int aio_read(struct aiocb* cb)
{
    static const AioFn next = next_fn("aio_read");
    return refuse(cb) ? -1 : next(cb);
}

extern "C" int aio_write(struct aiocb* cb)
{
    static const AioFn next = next_fn("aio_write");
    return refuse(cb) ? -1 : next(cb);
}

extern "C" int lio_listio(int mode, struct aiocb* const list[], int nent, struct sigevent*)
{
    if (mode != LIO_NOWAIT) {
        errno = EINVAL;
        return -1;
    }
    int result = 0, err = 0;
    for (int i = 0; i < nent; ++i) {
        if (!list[i] || list[i]->aio_lio_opcode == LIO_NOP)
            continue;
        const int rc = list[i]->aio_lio_opcode == LIO_READ ? aio_read(list[i]) : aio_write(list[i]);
        if (rc != 0) {
            result = -1;
            err = errno;
        }
    }
    if (result)
        errno = err;
    return result;
}

namespace {

/// A regular file holding "0123456789ABCDEF".
asyncdev::UniqueFd data_file()
{
    asyncdev::UniqueFd fd = make_tmpfile();
    if (::pwrite(fd.get(), "0123456789ABCDEF", 16, 0) != 16)
        fail_msg("pwrite: %s", std::strerror(errno));
    return fd;
}

struct ReadResult {
    ssize_t res = -1000;
    char data[4] = {};
};

} // namespace

// Three reads in one submit(); glibc cannot enqueue the second (out of
// memory). Before: lio_listio returned -1, every request was treated as
// enqueued, and the second, whose aiocb glibc never touched, "completed"
// with 0 bytes (an EOF) without ever running. Now it waits in the backlog
// and is retried when the first completes: all three read their data.
static void test_refused_enqueue_is_retried_not_reported_as_eof(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    asyncdev::UniqueFd fd = data_file();
    ReadResult r[3];
    for (int i = 0; i < 3; ++i)
        aio.read(fd.get(), std::as_writable_bytes(std::span(r[i].data)), 4u * i,
                 [&r, i](ssize_t res) { r[i].res = res; });
    arm(1);
    aio.submit();
    assert_true(run_until(loop, [&] { return r[0].res != -1000 && r[1].res != -1000 &&
                                             r[2].res != -1000; }));
    disarm();
    for (int i = 0; i < 3; ++i) {
        assert_int_equal(r[i].res, 4);
        assert_memory_equal(r[i].data, "0123456789AB" + 4 * i, 4);
    }
    assert_int_equal(aio.in_flight(), 0);
    assert_int_equal(aio.queued(), 0);
}

// A refusal that is not about resources goes to that request only.
static void test_refused_request_fails_alone(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop, asyncdev::PosixAio::Notify::signal);
    asyncdev::UniqueFd fd = data_file();
    ReadResult r[3];
    for (int i = 0; i < 3; ++i)
        aio.read(fd.get(), std::as_writable_bytes(std::span(r[i].data)), 4u * i,
                 [&r, i](ssize_t res) { r[i].res = res; });
    arm(1, EINVAL);
    aio.submit();
    assert_true(run_until(loop, [&] { return r[0].res != -1000 && r[1].res != -1000 &&
                                             r[2].res != -1000; }));
    disarm();
    assert_int_equal(r[0].res, 4);
    assert_int_equal(r[1].res, -EINVAL);
    assert_int_equal(r[2].res, 4);
    assert_memory_equal(r[2].data, "89AB", 4);
}

// EAGAIN with nothing in flight to free resources: failed, not kept for ever.
static void test_refused_with_nothing_in_flight_fails_eagain(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    asyncdev::UniqueFd fd = data_file();
    ReadResult r;
    aio.read(fd.get(), std::as_writable_bytes(std::span(r.data)), 0,
             [&](ssize_t res) { r.res = res; });
    arm(-2);
    aio.submit();
    assert_true(run_until(loop, [&] { return r.res != -1000; }, 2s));
    disarm();
    assert_int_equal(r.res, -EAGAIN);
}

// glibc cannot cancel a read its helper thread is running (an empty pipe):
// cancel() says false, every time, and the read completes normally.
static void test_cancel_of_running_read_is_false(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    Pair p = make_pipe(O_CLOEXEC);
    ReadResult r;
    const auto id = aio.read(p.a.get(), std::as_writable_bytes(std::span(r.data)), 0,
                             [&](ssize_t res) { r.res = res; });
    aio.submit();
    std::this_thread::sleep_for(100ms); // the helper thread is in read() now
    assert_false(aio.cancel(id));
    assert_false(aio.cancel(id));
    assert_int_equal(::write(p.b.get(), "wxyz", 4), 4);
    assert_true(run_until(loop, [&] { return r.res != -1000; }));
    assert_int_equal(r.res, 4);
    assert_memory_equal(r.data, "wxyz", 4);
}

// A second read on the same fd waits in glibc behind the first: glibc can
// cancel it (AIO_CANCELED): true once, then false; -ECANCELED once.
static void test_cancel_of_waiting_read_is_true_once(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    Pair p = make_pipe(O_CLOEXEC);
    ReadResult first, second;
    int second_calls = 0;
    aio.read(p.a.get(), std::as_writable_bytes(std::span(first.data)), 0,
             [&](ssize_t res) { first.res = res; });
    const auto id = aio.read(p.a.get(), std::as_writable_bytes(std::span(second.data)), 0,
                             [&](ssize_t res) {
                                 second.res = res;
                                 ++second_calls;
                             });
    aio.submit();
    std::this_thread::sleep_for(100ms);
    assert_true(aio.cancel(id));
    assert_false(aio.cancel(id));
    assert_true(run_until(loop, [&] { return second_calls > 0; }));
    assert_int_equal(second.res, -ECANCELED);
    assert_int_equal(::write(p.b.get(), "abcd", 4), 4);
    assert_true(run_until(loop, [&] { return first.res != -1000; }));
    assert_int_equal(first.res, 4);
    loop.run_once(20ms);
    assert_int_equal(second_calls, 1);
}

// Finished in glibc, not yet delivered: AIO_ALLDONE, cancel() is false and
// the callback gets the real result.
static void test_cancel_of_finished_read_is_false(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    asyncdev::UniqueFd fd = data_file();
    ReadResult r;
    const auto id = aio.read(fd.get(), std::as_writable_bytes(std::span(r.data)), 0,
                             [&](ssize_t res) { r.res = res; });
    aio.submit();
    std::this_thread::sleep_for(100ms); // done, the loop has not looked
    assert_false(aio.cancel(id));
    assert_true(run_until(loop, [&] { return r.res != -1000; }));
    assert_int_equal(r.res, 4);
    assert_false(aio.cancel(id)); // completed: unknown now
}

// Not yet submitted: cancellable for sure, once.
static void test_cancel_of_prepared_read_is_true_once(void**)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio aio(loop);
    asyncdev::UniqueFd fd = data_file();
    ReadResult r;
    const auto id = aio.read(fd.get(), std::as_writable_bytes(std::span(r.data)), 0,
                             [&](ssize_t res) { r.res = res; });
    assert_true(aio.cancel(id));
    assert_false(aio.cancel(id));
    assert_true(run_until(loop, [&] { return r.res != -1000; }));
    assert_int_equal(r.res, -ECANCELED);
}

enum class Kind { libaio, uring, posix };

std::unique_ptr<asyncdev::IoEngine> make_engine(asyncdev::Loop& loop, Kind k)
{
    switch (k) {
    case Kind::libaio: return std::make_unique<asyncdev::AioContext>(loop, 8);
    case Kind::uring: return std::make_unique<asyncdev::Uring>(loop, 8);
    case Kind::posix: return std::make_unique<asyncdev::PosixAio>(loop);
    }
    return nullptr;
}

// The same code on each backend, chosen at run time: writev then readv.
static void test_posix_aio_is_an_io_engine(void**)
{
    for (Kind k : {Kind::libaio, Kind::uring, Kind::posix}) {
        asyncdev::Loop loop;
        std::unique_ptr<asyncdev::IoEngine> engine = make_engine(loop, k);
        asyncdev::UniqueFd fd = make_tmpfile();
        char a[] = "hello, ", b[] = "vectors";
        iovec out[2] = {{a, 7}, {b, 7}};
        ssize_t wres = -1000, rres = -1000;
        engine->writev(fd.get(), out, 3, [&](ssize_t r) { wres = r; });
        engine->submit();
        assert_true(run_until(loop, [&] { return wres != -1000; }));
        assert_int_equal(wres, 14);
        char c[5] = {}, d[9] = {};
        iovec in[2] = {{c, 4}, {d, 8}};
        engine->readv(fd.get(), in, 5, [&](ssize_t r) { rres = r; });
        engine->submit();
        assert_true(run_until(loop, [&] { return rres != -1000; }));
        assert_int_equal(rres, 12); // 17 bytes in the file, from offset 5
        assert_memory_equal(c, "llo,", 4);
        assert_memory_equal(d, " vectors", 8);
        assert_int_equal(engine->in_flight(), 0);
        assert_true(engine->depth() >= 1);
    }
}

int main()
{
    filter_from_env();
    tsan_one_aio_helper_thread();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_enqueue_is_retried_not_reported_as_eof),
        cmocka_unit_test(test_refused_request_fails_alone),
        cmocka_unit_test(test_refused_with_nothing_in_flight_fails_eagain),
        cmocka_unit_test(test_cancel_of_running_read_is_false),
        cmocka_unit_test(test_cancel_of_waiting_read_is_true_once),
        cmocka_unit_test(test_cancel_of_finished_read_is_false),
        cmocka_unit_test(test_cancel_of_prepared_read_is_true_once),
        cmocka_unit_test(test_posix_aio_is_an_io_engine),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
