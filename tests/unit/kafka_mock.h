/*
 * kafka_mock: what the unit tests on librdkafka's in-process mock cluster share: a client
 * configuration that logs nothing.
 */
#ifndef ORDERSINK_TEST_KAFKA_MOCK_H
#define ORDERSINK_TEST_KAFKA_MOCK_H

#include <check.h>
#include <librdkafka/rdkafka.h>

/* A conf with logging off and bootstrap.servers set when bootstraps is not NULL. */
static inline rd_kafka_conf_t *quiet_conf(const char *bootstraps)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    ck_assert_ptr_nonnull(conf);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err)), 0);
    if (bootstraps)
        ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err)),
                         0);
    return conf;
}

#endif
