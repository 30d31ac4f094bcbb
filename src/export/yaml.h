/* yaml.h — a JSON value as a block-style YAML document (private to src/export). */
#ifndef NC_EXPORT_YAML_H
#define NC_EXPORT_YAML_H

#include <jansson.h>

#include "export/export-internal.h"

/* Append "---\n" and doc (an object) to b. */
void nc_yaml_document(struct nc_buf *b, json_t *doc);

#endif
