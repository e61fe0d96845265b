/*
 * lag_state: the previous poll's committed offsets in a text file, one partition a line.
 */
#include "lag_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lag_state_load(const char *path, const char *topic, struct lag_partition *parts, size_t n,
                   char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++)
        parts[i].previous = LAG_NO_OFFSET;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024], name[512];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        int32_t partition;
        int64_t offset;
        char extra;
        if (sscanf(line, "%511s %" SCNd32 " %" SCNd64 " %c", name, &partition, &offset, &extra) !=
                3 ||
            partition < 0 || offset < 0) {
            snprintf(err, errsz, "%s:%d: expected \"<topic> <partition> <offset>\"", path, lineno);
            rc = -1;
            break;
        }
        if (strcmp(name, topic) != 0)
            continue;
        for (size_t i = 0; i < n; i++)
            if (parts[i].partition == partition)
                parts[i].previous = offset;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errsz, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

int lag_state_save(const char *path, const char *topic, const struct lag_partition *parts, size_t n,
                   char *err, size_t errsz)
{
    size_t len = strlen(path) + 5;
    char *tmp = malloc(len);
    if (!tmp) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    snprintf(tmp, len, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = f ? 0 : -1;
    for (size_t i = 0; f && i < n; i++)
        if (parts[i].previous != LAG_NO_OFFSET &&
            fprintf(f, "%s %" PRId32 " %" PRId64 "\n", topic, parts[i].partition,
                    parts[i].previous) < 0)
            rc = -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return rc;
}
