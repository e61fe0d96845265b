/*
 * pipeline_rebalance: what the pipeline does when partitions come and go. On assign, a new
 * epoch per partition (lib/commit) and the pause flag set right; on revoke, the drain (unless
 * lost), then the fence: the partitions' epoch ends, their messages leave the open batch and
 * their writes are cancelled; and pause/resume for backpressure.
 */
#include <string.h>

#include "log.h"
#include "pipeline_internal.h"

void pipeline_set_paused(struct pipeline *p, int paused)
{
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(p->consumer, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || !assigned)
        return;
    rd_kafka_resp_err_t e = paused ? rd_kafka_pause_partitions(p->consumer, assigned)
                                   : rd_kafka_resume_partitions(p->consumer, assigned);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->paused = paused;
        if (p->metrics)
            atomic_store(&p->metrics->live.paused, paused ? assigned->cnt : 0);
        LOG(LOG_DEBUG, paused ? "backpressure: partitions paused" : "partitions resumed",
            LF_INT("partitions", assigned->cnt), LF_INT("batches_in_flight", p->in_flight));
    } else {
        LOG(LOG_WARN, "cannot pause or resume partitions", LF_STR("error", rd_kafka_err2str(e)));
    }
    rd_kafka_topic_partition_list_destroy(assigned);
}

void pipeline_on_assign(struct pipeline *p, const rd_kafka_topic_partition_list_t *parts)
{
    if (parts->cnt == 0)
        return;
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (strcmp(tp->topic, p->cfg->kafka_topic) == 0 &&
            commit_assign(&p->commit, tp->partition, tp->offset >= 0 ? tp->offset : -1) != 0)
            pipeline_fail(p, "out of memory assigning partitions");
    }
    rd_kafka_topic_partition_list_t *copy = rd_kafka_topic_partition_list_copy(parts);
    if (!copy)
        return;
    /* Resuming when not paused is not a no-op: librdkafka 2.0.2 keeps a partition's pause
     * flag across unassign and assign, so a partition paused before a rebalance would come
     * back paused for good (seen on the rig: reassigned partitions never fetched again). */
    rd_kafka_resp_err_t e = p->paused ? rd_kafka_pause_partitions(p->consumer, copy)
                                      : rd_kafka_resume_partitions(p->consumer, copy);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && p->paused && p->metrics)
        atomic_fetch_add(&p->metrics->live.paused, copy->cnt);
    rd_kafka_topic_partition_list_destroy(copy);
}

/* batch_remove_if callback: drops (and releases) the messages of partitions not assigned. */
static int pipeline_drop_unassigned(const struct batch_item *it, void *arg)
{
    const struct pipeline *p = arg;
    if (commit_epoch(&p->commit, it->partition))
        return 0;
    rd_kafka_message_destroy(it->msg);
    return 1;
}

/* Ends the epoch of parts: p->commit forgets their commits for good, their messages leave
 * the open batch, and their writes in flight are neither sent nor retried any more. */
static void pipeline_fence(struct pipeline *p, const rd_kafka_topic_partition_list_t *parts,
                           int lost)
{
    for (int i = 0; i < parts->cnt; i++)
        if (strcmp(parts->elems[i].topic, p->cfg->kafka_topic) == 0)
            commit_revoke(&p->commit, parts->elems[i].partition);
    size_t dropped = batch_remove_if(&p->open, pipeline_drop_unassigned, p), cancelled = 0;
    for (struct pipeline_batch *pb = p->head; pb; pb = pb->next) {
        for (size_t j = 0; pb->run && j < pb->nw; j++) {
            int32_t partition = pb->e[pb->write_entry[j]].msg->partition;
            if (pb->w[j].outcome == COSMOS_PENDING &&
                !commit_batch_current(&p->commit, pb->id, partition)) {
                cosmos_run_cancel(pb->run, j);
                cancelled++;
            }
        }
    }
    pipeline_publish_commits(p);
    LOG(lost || dropped || cancelled ? LOG_INFO : LOG_DEBUG, "partitions fenced",
        LF_INT("partitions", parts->cnt), LF_INT("lost", lost), LF_INT("messages_dropped", dropped),
        LF_INT("writes_cancelled", cancelled), LF_INT("commits_refused_total", p->commit.refused));
}

void pipeline_on_revoke(struct pipeline *p, const rd_kafka_topic_partition_list_t *parts, int lost)
{
    if (!p->fatal && !lost)
        pipeline_drain(p);
    pipeline_fence(p, parts, lost);
    if (!p->paused)
        return;
    /* The pipeline is empty now (or the partitions are gone): nothing to hold back. */
    rd_kafka_topic_partition_list_t *copy = rd_kafka_topic_partition_list_copy(parts);
    if (copy) {
        rd_kafka_resume_partitions(p->consumer, copy);
        rd_kafka_topic_partition_list_destroy(copy);
    }
    pipeline_set_paused(p, 0); /* what stays assigned (cooperative) */
}
