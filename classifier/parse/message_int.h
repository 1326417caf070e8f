/*
 * message_int.h: what the parts of the message parser share (parse/ only).
 *
 * message.c walks GMime's tree and calls these for the parts it keeps:
 * decode.c turns a part into clean UTF-8 text, headers.c turns header
 * blocks into BOUNCE_FIELDS and builds the flat body, dsn_part.c splits a
 * delivery-status part into groups.  Not for the detectors: they read the
 * finished BOUNCE_MSG (bounce.h) and never touch GMime.
 */
#ifndef MESSAGE_INT_H
#define MESSAGE_INT_H

#include <stddef.h>

#include <gmime/gmime.h>

#include "bounce.h"

/* ---- a part's text (decode.c) ---- */

/* bytes[0..len) as clean, valid UTF-8 (g_malloc'd); never NULL. */
char *utf8_text(const char *bytes, size_t len);
/* A leaf part's content: transfer encoding undone, converted from its
 * charset to UTF-8, cleaned.  g_malloc'd. */
char *part_text(GMimePart *part);
/* A whole (embedded) object written back as text: headers and body. */
char *object_text(GMimeObject *object);
/* HTML reduced to text: tags that end a line make one, entities decoded,
 * scripts, styles and comments dropped.  g_malloc'd. */
char *html_to_text(const char *html);

/* ---- header blocks and the flat body (headers.c) ---- */

/* An object's headers as BOUNCE_FIELDS, in their order, values decoded. */
void object_headers(GMimeObject *object, BOUNCE_FIELDS *out);
/* Add body's Content-* headers to headers where it has none of the name. */
void add_content_headers(GMimeObject *body, BOUNCE_FIELDS *headers);
/* Append "Name: value" lines to the flat body. */
void flat_add_fields(GString *flat, const BOUNCE_FIELDS *fields);
/* Append "Content-Type: <type>" and the part's text to the flat body. */
void flat_add_part(GString *flat, const char *type, const char *text);

/* ---- the DSN part (dsn_part.c) ---- */

/* Append *item to *to (ownership passes); on failure item is freed: -1. */
int fields_move(BOUNCE_FIELDS *to, BOUNCE_FIELD *item);
/* Split a delivery-status body into groups, appending to msg->dsn_*. */
void parse_dsn(BOUNCE_MSG *msg, const char *text);

#endif
