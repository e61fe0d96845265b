/* Unit tests for lib/commit: in-order commits per partition, failures and dead letters that
 * block, fencing on revoke/loss and re-assignment, and commits that would go backwards. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "commit.h"

/* Registers a batch of n items (part[i], off[i]); returns its id. */
static uint64_t add(struct commit *c, const int32_t *part, const int64_t *off, size_t n)
{
    struct batch_item items[64];
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++)
        items[i] = (struct batch_item){NULL, part[i], off[i], 1};
    uint64_t id = 0;
    ck_assert_int_eq(commit_batch_add(c, items, n, &id), 0);
    ck_assert_uint_ne(id, 0);
    return id;
}

/* A batch of offsets [first, next) of one partition. */
static uint64_t add_range(struct commit *c, int32_t partition, int64_t first, int64_t next)
{
    int32_t part[64];
    int64_t off[64];
    size_t n = (size_t)(next - first);
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++) {
        part[i] = partition;
        off[i] = first + (int64_t)i;
    }
    return add(c, part, off, n);
}

/* The next offset commit_ready offers for partition, -1 for none; all offers in *n. The
 * offers are then answered with ok. */
static int64_t ready_for(struct commit *c, int32_t partition, size_t *n, int ok)
{
    const struct batch_mark *m;
    size_t k = commit_ready(c, &m);
    int64_t next = -1;
    for (size_t i = 0; i < k; i++)
        if (m[i].partition == partition) {
            ck_assert_int_eq(next, -1); /* one mark per partition */
            next = m[i].next_offset;
        }
    if (n)
        *n = k;
    commit_done(c, ok);
    return next;
}

START_TEST(test_one_batch_commits_past_its_highest_offset)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, -1), 0);
    uint64_t b = add_range(&c, 0, 10, 15);
    size_t n;
    ck_assert_int_eq(commit_pending(&c), 0);
    ck_assert_int_eq(ready_for(&c, 0, &n, 1), -1);
    ck_assert_uint_eq(n, 0);
    commit_batch_set(&c, b, COMMIT_DURABLE);
    ck_assert_int_eq(commit_pending(&c), 1);
    ck_assert_int_eq(ready_for(&c, 0, &n, 1), 15);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(commit_pending(&c), 0); /* committed: nothing more to offer */
    ck_assert_int_eq(ready_for(&c, 0, &n, 1), -1);
    ck_assert_uint_eq(c.refused, 0);
    commit_free(&c);
}
END_TEST

START_TEST(test_interleaved_partitions_get_one_mark_each)
{
    struct commit c;
    commit_init(&c);
    for (int32_t p = 0; p < 3; p++)
        ck_assert_int_eq(commit_assign(&c, p, -1), 0);
    static const int32_t part[] = {0, 2, 0, 1, 2, 0, 1, 2, 0};
    static const int64_t off[] = {5, 100, 6, 40, 101, 9, 41, 99, 7};
    uint64_t b = add(&c, part, off, 9);
    ck_assert_uint_eq(c.nspans, 3);
    commit_batch_set(&c, b, COMMIT_DURABLE);
    const struct batch_mark *m;
    ck_assert_uint_eq(commit_ready(&c, &m), 3);
    int64_t next[3] = {-1, -1, -1};
    for (size_t i = 0; i < 3; i++)
        next[m[i].partition] = m[i].next_offset;
    commit_done(&c, 1);
    ck_assert_int_eq(next[0], 10);
    ck_assert_int_eq(next[1], 42);
    ck_assert_int_eq(next[2], 102);
    commit_free(&c);
}
END_TEST

START_TEST(test_batches_finishing_out_of_order_commit_in_order)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, -1), 0);
    uint64_t b1 = add_range(&c, 0, 0, 10);
    uint64_t b2 = add_range(&c, 0, 10, 20);
    uint64_t b3 = add_range(&c, 0, 20, 30);
    commit_batch_set(&c, b3, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), -1); /* b1, b2 still writing */
    commit_batch_set(&c, b1, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), 10); /* b1 only: b2 is in the way of b3 */
    commit_batch_set(&c, b2, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), 30);
    ck_assert_uint_eq(c.nspans, 0);
    ck_assert_uint_eq(c.refused, 0);
    commit_free(&c);
}
END_TEST

START_TEST(test_partitions_do_not_wait_for_each_other)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, -1), 0);
    ck_assert_int_eq(commit_assign(&c, 1, -1), 0);
    uint64_t b1 = add_range(&c, 0, 0, 5);
    static const int32_t part[] = {0, 1, 0, 1};
    static const int64_t off[] = {5, 70, 6, 71};
    uint64_t b2 = add(&c, part, off, 4);
    commit_batch_set(&c, b2, COMMIT_DURABLE);
    size_t n;
    ck_assert_int_eq(ready_for(&c, 1, &n, 1), 72); /* partition 1: nothing older */
    ck_assert_uint_eq(n, 1);                       /* partition 0 waits for b1 */
    commit_batch_set(&c, b1, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, &n, 1), 7);
    ck_assert_uint_eq(n, 1);
    commit_free(&c);
}
END_TEST

START_TEST(test_failed_batch_blocks_its_partition_for_good)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, -1), 0);
    ck_assert_int_eq(commit_assign(&c, 1, -1), 0);
    uint64_t b1 = add_range(&c, 0, 0, 5);
    static const int32_t part[] = {0, 1};
    static const int64_t off[] = {5, 30};
    uint64_t b2 = add(&c, part, off, 2);
    uint64_t b3 = add_range(&c, 0, 6, 9);
    commit_batch_set(&c, b1, COMMIT_FAILED);
    commit_batch_set(&c, b2, COMMIT_DURABLE);
    commit_batch_set(&c, b3, COMMIT_DURABLE);
    size_t n;
    ck_assert_int_eq(ready_for(&c, 1, &n, 1), 31);
    ck_assert_uint_eq(n, 1); /* nothing for partition 0 */
    ck_assert_int_eq(ready_for(&c, 0, &n, 1), -1);
    ck_assert_int_eq(commit_pending(&c), 0);
    commit_free(&c);
}
END_TEST

START_TEST(test_dead_letters_not_acknowledged_block_the_commit)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, -1), 0);
    uint64_t b1 = add_range(&c, 0, 0, 5);
    uint64_t b2 = add_range(&c, 0, 5, 9);
    commit_batch_set(&c, b1, COMMIT_DLQ_WAIT);
    commit_batch_set(&c, b2, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), -1);
    ck_assert_int_eq(commit_pending(&c), 0);
    commit_batch_set(&c, b1, COMMIT_DURABLE); /* the acks came */
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), 9);
    commit_free(&c);
}
END_TEST

START_TEST(test_failed_commit_offers_the_marks_again)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, -1), 0);
    uint64_t b1 = add_range(&c, 0, 0, 5);
    uint64_t b2 = add_range(&c, 0, 5, 8);
    commit_batch_set(&c, b1, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 0), 5); /* the commit failed */
    ck_assert_int_eq(commit_pending(&c), 1);
    commit_batch_set(&c, b2, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), 8); /* with what became durable since */
    ck_assert_int_eq(commit_pending(&c), 0);
    ck_assert_uint_eq(c.refused, 0);
    commit_free(&c);
}
END_TEST

/* The cooperative revoke: drained and committed first, then let go: nothing is refused. */
START_TEST(test_revoke_after_the_drain_refuses_nothing)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, -1), 0);
    uint64_t b = add_range(&c, 0, 0, 5);
    commit_batch_set(&c, b, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), 5);
    commit_revoke(&c, 0);
    ck_assert_uint_eq(commit_epoch(&c, 0), 0);
    ck_assert_uint_eq(c.refused, 0);
    ck_assert_uint_eq(c.nspans, 0);
    commit_free(&c);
}
END_TEST

/* A revoke whose drain did not finish: what is left is discarded, never committed. */
START_TEST(test_revoke_discards_what_is_not_committed)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, -1), 0);
    ck_assert_int_eq(commit_assign(&c, 1, -1), 0);
    uint64_t b1 = add_range(&c, 0, 0, 5);
    static const int32_t part[] = {0, 1};
    static const int64_t off[] = {5, 50};
    uint64_t b2 = add(&c, part, off, 2);
    commit_batch_set(&c, b1, COMMIT_DURABLE); /* durable, not committed yet */
    ck_assert_int_eq(commit_batch_current(&c, b2, 0), 1);
    commit_revoke(&c, 0);
    ck_assert_uint_eq(c.refused, 1); /* b1's mark, discarded */
    ck_assert_int_eq(commit_batch_current(&c, b2, 0), 0);
    ck_assert_int_eq(commit_batch_current(&c, b2, 1), 1);
    ck_assert_int_eq(commit_pending(&c), 0);
    commit_batch_set(&c, b2, COMMIT_DURABLE);
    size_t n;
    ck_assert_int_eq(ready_for(&c, 1, &n, 1), 51); /* partition 1 is still ours */
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(c.refused, 2); /* b2's part of partition 0 */
    ck_assert_uint_eq(c.nspans, 0);
    commit_free(&c);
}
END_TEST

/* Lost (the zombie case): nothing of that epoch commits, whatever finishes later. */
START_TEST(test_lost_discards_everything_in_flight)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 3, 200), 0);
    uint64_t b1 = add_range(&c, 3, 200, 220);
    uint64_t b2 = add_range(&c, 3, 220, 240);
    uint64_t b3 = add_range(&c, 3, 240, 250);
    commit_batch_set(&c, b2, COMMIT_DLQ_WAIT);
    commit_revoke(&c, 3);
    ck_assert_uint_eq(commit_epoch(&c, 3), 0);
    ck_assert_int_eq(commit_batch_current(&c, b1, 3), 0);
    ck_assert_int_eq(commit_batch_current(&c, b3, 3), 0);
    commit_batch_set(&c, b1, COMMIT_DURABLE);
    commit_batch_set(&c, b2, COMMIT_DURABLE);
    commit_batch_set(&c, b3, COMMIT_FAILED);
    size_t n;
    ck_assert_int_eq(ready_for(&c, 3, &n, 1), -1);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(commit_pending(&c), 0);
    ck_assert_uint_eq(c.refused, 2); /* b1 and b2 finished for a stale epoch */
    ck_assert_uint_eq(c.nspans, 0);
    commit_free(&c);
}
END_TEST

/* The bug of issue 12: lost at 220, the group moved on to 800, the partition came back. The
 * old batches finishing now must not commit 220, nor stand in the way of the new ones. */
START_TEST(test_reassign_starts_clean_and_old_epoch_commits_nothing)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, 100), 0);
    uint32_t e1 = commit_epoch(&c, 0);
    uint64_t old1 = add_range(&c, 0, 100, 160);
    uint64_t old2 = add_range(&c, 0, 160, 220);
    commit_batch_set(&c, old1, COMMIT_DURABLE);
    commit_revoke(&c, 0); /* lost */
    ck_assert_int_eq(commit_assign(&c, 0, 800), 0);
    uint32_t e2 = commit_epoch(&c, 0);
    ck_assert_uint_ne(e2, e1);
    ck_assert_uint_ne(e2, 0);
    ck_assert_int_eq(commit_pending(&c), 0); /* old1's durable mark did not survive */
    ck_assert_int_eq(commit_batch_current(&c, old2, 0), 0);
    uint64_t new1 = add_range(&c, 0, 800, 830);
    ck_assert_int_eq(commit_batch_current(&c, new1, 0), 1);
    commit_batch_set(&c, new1, COMMIT_DURABLE); /* old2 is still writing: not in the way */
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), 830);
    uint64_t refused = c.refused;
    commit_batch_set(&c, old2, COMMIT_DURABLE);
    ck_assert_int_eq(commit_pending(&c), 0);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), -1);
    ck_assert_uint_eq(c.refused, refused + 1);
    commit_free(&c);
}
END_TEST

START_TEST(test_commit_not_above_the_committed_offset_is_refused_and_counted)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, 800), 0);
    uint64_t back = add_range(&c, 0, 200, 220); /* would move 800 back to 220 */
    commit_batch_set(&c, back, COMMIT_DURABLE);
    ck_assert_int_eq(commit_pending(&c), 1);
    size_t n;
    ck_assert_int_eq(ready_for(&c, 0, &n, 1), -1);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(c.refused, 1);
    ck_assert_int_eq(commit_pending(&c), 0); /* counted once, not offered again */
    ck_assert_int_eq(ready_for(&c, 0, &n, 1), -1);
    ck_assert_uint_eq(c.refused, 1);
    uint64_t same = add_range(&c, 0, 790, 800); /* equal is not forward either */
    commit_batch_set(&c, same, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), -1);
    ck_assert_uint_eq(c.refused, 2);
    uint64_t fwd = add_range(&c, 0, 800, 801);
    commit_batch_set(&c, fwd, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), 801);
    uint64_t again = add_range(&c, 0, 795, 801); /* below what this epoch committed */
    commit_batch_set(&c, again, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), -1);
    ck_assert_uint_eq(c.refused, 3);
    commit_free(&c);
}
END_TEST

START_TEST(test_partition_never_assigned_is_fenced_from_the_start)
{
    struct commit c;
    commit_init(&c);
    ck_assert_uint_eq(commit_epoch(&c, 4), 0);
    uint64_t b = add_range(&c, 4, 0, 3);
    ck_assert_int_eq(commit_batch_current(&c, b, 4), 0);
    ck_assert_int_eq(commit_assign(&c, 4, -1), 0); /* assigned after it was read */
    ck_assert_int_eq(commit_batch_current(&c, b, 4), 0);
    commit_batch_set(&c, b, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 4, NULL, 1), -1);
    ck_assert_uint_eq(c.refused, 1);
    commit_free(&c);
}
END_TEST

/* An offer answered after its partition was revoked and assigned again counts for nothing:
 * the new epoch's floor is the group's offset, not the stale offer. */
START_TEST(test_offer_answered_after_reassign_changes_nothing)
{
    struct commit c;
    commit_init(&c);
    ck_assert_int_eq(commit_assign(&c, 0, -1), 0);
    uint64_t b = add_range(&c, 0, 0, 4);
    commit_batch_set(&c, b, COMMIT_DURABLE);
    const struct batch_mark *m;
    ck_assert_uint_eq(commit_ready(&c, &m), 1);
    commit_revoke(&c, 0);
    ck_assert_int_eq(commit_assign(&c, 0, 1), 0);
    commit_done(&c, 1); /* the stale offer of 4 */
    uint64_t b2 = add_range(&c, 0, 1, 3);
    commit_batch_set(&c, b2, COMMIT_DURABLE);
    ck_assert_int_eq(ready_for(&c, 0, NULL, 1), 3); /* 3 > 1; a recorded 4 would refuse it */
    commit_free(&c);
}
END_TEST

/* Many partitions and batches finishing in a scrambled order: every offer is exactly the end
 * of the partition's durable prefix of batches, and each partition ends at its highest + 1. */
START_TEST(test_many_batches_scrambled_completion)
{
    enum { NP = 40, NB = 200, PER = 6 };
    struct commit c;
    commit_init(&c);
    for (int32_t p = 0; p < NP; p++)
        ck_assert_int_eq(commit_assign(&c, p, -1), 0);
    static uint64_t id[NB];
    static int64_t before[NB][NP]; /* next offset of each partition before batch b */
    static int has[NB][NP];
    int64_t next[NP] = {0};
    for (int b = 0; b < NB; b++) {
        int32_t part[PER];
        int64_t off[PER];
        for (int p = 0; p < NP; p++)
            before[b][p] = next[p];
        for (int i = 0; i < PER; i++) {
            part[i] = (int32_t)((b * 7 + i * 13) % NP);
            off[i] = next[part[i]]++;
            has[b][part[i]] = 1;
        }
        id[b] = add(&c, part, off, PER);
    }
    int order[NB];
    for (int b = 0; b < NB; b++)
        order[b] = b;
    uint32_t rng = 12345;
    for (int b = NB - 1; b > 0; b--) {
        rng = rng * 1103515245u + 12345u;
        int k = (int)((rng >> 8) % (uint32_t)(b + 1));
        int t = order[b];
        order[b] = order[k];
        order[k] = t;
    }
    int durable[NB] = {0};
    int64_t committed[NP];
    for (int p = 0; p < NP; p++)
        committed[p] = -1;
    for (int i = 0; i < NB; i++) {
        durable[order[i]] = 1;
        commit_batch_set(&c, id[order[i]], COMMIT_DURABLE);
        const struct batch_mark *m;
        size_t n = commit_ready(&c, &m);
        for (size_t k = 0; k < n; k++) {
            int32_t p = m[k].partition;
            int f = 0; /* the oldest batch of p still writing: the mark stops before it */
            while (f < NB && (durable[f] || !has[f][p]))
                f++;
            ck_assert_int_eq(m[k].next_offset, f == NB ? next[p] : before[f][p]);
            ck_assert_int_gt(m[k].next_offset, committed[p]);
            committed[p] = m[k].next_offset;
        }
        commit_done(&c, 1);
    }
    for (int p = 0; p < NP; p++)
        ck_assert_int_eq(committed[p], next[p]);
    ck_assert_uint_eq(c.nspans, 0);
    ck_assert_uint_eq(c.refused, 0);
    commit_free(&c);
}
END_TEST

static Suite *commit_suite(void)
{
    Suite *s = suite_create("commit");
    TCase *tc = tcase_create("order");
    tcase_add_test(tc, test_one_batch_commits_past_its_highest_offset);
    tcase_add_test(tc, test_interleaved_partitions_get_one_mark_each);
    tcase_add_test(tc, test_batches_finishing_out_of_order_commit_in_order);
    tcase_add_test(tc, test_partitions_do_not_wait_for_each_other);
    tcase_add_test(tc, test_failed_batch_blocks_its_partition_for_good);
    tcase_add_test(tc, test_dead_letters_not_acknowledged_block_the_commit);
    tcase_add_test(tc, test_failed_commit_offers_the_marks_again);
    tcase_add_test(tc, test_offer_answered_after_reassign_changes_nothing);
    tcase_add_test(tc, test_many_batches_scrambled_completion);
    suite_add_tcase(s, tc);
    tc = tcase_create("fence");
    tcase_add_test(tc, test_revoke_after_the_drain_refuses_nothing);
    tcase_add_test(tc, test_revoke_discards_what_is_not_committed);
    tcase_add_test(tc, test_lost_discards_everything_in_flight);
    tcase_add_test(tc, test_reassign_starts_clean_and_old_epoch_commits_nothing);
    tcase_add_test(tc, test_commit_not_above_the_committed_offset_is_refused_and_counted);
    tcase_add_test(tc, test_partition_never_assigned_is_fenced_from_the_start);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(commit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
