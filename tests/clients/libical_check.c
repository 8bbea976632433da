/* Read one iCalendar stream on stdin with libical and print what a client would take
 * from it, as JSON on stdout.
 *
 *   gcc libical_check.c $(pkg-config --cflags --libs libical) -o libical_check
 *   ./libical_check < invite.ics
 *   ./libical_check --batch < one.ics NUL two.ics NUL ...   (prints a JSON array)
 *
 * Local times are converted to UTC with the VTIMEZONE embedded in the stream, looked
 * up by TZID on the VCALENDAR itself, never with libical's built-in zone database
 * (which would hide a wrong block): "zone" says where each offset came from.
 *
 * "parse_errors" are the X-LIC-ERROR properties the parser left; "restriction_errors"
 * the ones icalrestriction_check() adds for the iTIP method (RFC 5546 tables), with
 * their texts in "errors".
 */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *read_all(FILE *in, size_t *length) {
    size_t size = 0, cap = 65536;
    char *buf = malloc(cap);
    size_t got;
    if (!buf) exit(3);
    while ((got = fread(buf + size, 1, cap - size - 1, in)) > 0) {
        size += got;
        if (cap - size - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) exit(3);
        }
    }
    buf[size] = '\0';
    *length = size;
    return buf;
}

static void json_str(const char *s) {
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (*p < 0x20) printf("\\u%04x", *p);
            else putchar(*p);
        }
    }
    putchar('"');
}

static void key(const char *name, int first) {
    if (!first) putchar(',');
    json_str(name);
    putchar(':');
}

static int count_errors(icalcomponent *comp, int print, int *first) {
    int n = 0;
    for (icalproperty *p = icalcomponent_get_first_property(comp, ICAL_XLICERROR_PROPERTY); p;
         p = icalcomponent_get_next_property(comp, ICAL_XLICERROR_PROPERTY)) {
        n++;
        if (print) {
            if (!*first) putchar(',');
            *first = 0;
            json_str(icalproperty_get_xlicerror(p));
        }
    }
    for (icalcomponent *c = icalcomponent_get_first_component(comp, ICAL_ANY_COMPONENT); c;
         c = icalcomponent_get_next_component(comp, ICAL_ANY_COMPONENT))
        n += count_errors(c, print, first);
    return n;
}

static void print_time(icalcomponent *vcal, icalcomponent *event, icalproperty_kind kind) {
    icalproperty *prop = icalcomponent_get_first_property(event, kind);
    if (!prop) {
        fputs("null", stdout);
        return;
    }
    struct icaltimetype t = icalvalue_get_datetime(icalproperty_get_value(prop));
    icalparameter *tzparam = icalproperty_get_first_parameter(prop, ICAL_TZID_PARAMETER);
    const char *tzid = tzparam ? icalparameter_get_tzid(tzparam) : NULL;
    icaltimezone *zone = NULL;
    const char *source;
    if (t.is_date) {
        source = "date";
    } else if (icaltime_is_utc(t)) {
        source = "utc";
        zone = icaltimezone_get_utc_timezone();
    } else if (tzid) {
        zone = icalcomponent_get_timezone(vcal, tzid);
        source = zone ? "embedded" : "missing";
    } else {
        source = "floating";
    }
    putchar('{');
    key("value", 1);
    json_str(icaltime_as_ical_string(t));
    key("tzid", 0);
    json_str(tzid);
    key("zone", 0);
    json_str(source);
    key("is_date", 0);
    fputs(t.is_date ? "true" : "false", stdout);
    key("utc", 0);
    if (zone && !t.is_date) {
        time_t secs = icaltime_as_timet_with_zone(t, zone);
        struct tm tm;
        char buf[32];
        gmtime_r(&secs, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_str(buf);
    } else {
        fputs("null", stdout);
    }
    putchar('}');
}

static void print_person(icalproperty *prop) {
    putchar('{');
    key("value", 1);
    json_str(icalvalue_as_ical_string(icalproperty_get_value(prop)));
    const char *params[] = {"CN", "ROLE", "PARTSTAT", "RSVP", "CUTYPE"};
    const char *names[] = {"cn", "role", "partstat", "rsvp", "cutype"};
    for (int i = 0; i < 5; i++) {
        key(names[i], 0);
        json_str(icalproperty_get_parameter_as_string(prop, params[i]));
    }
    putchar('}');
}

static void print_text(icalcomponent *event, const char *name, icalproperty_kind kind) {
    icalproperty *prop = icalcomponent_get_first_property(event, kind);
    key(name, 0);
    if (!prop) {
        fputs("null", stdout);
        return;
    }
    icalvalue *value = icalproperty_get_value(prop);
    if (icalvalue_isa(value) == ICAL_TEXT_VALUE)
        json_str(icalvalue_get_text(value));
    else
        json_str(icalvalue_as_ical_string(value));
}

static void print_event(icalcomponent *vcal, icalcomponent *event) {
    putchar('{');
    key("uid", 1);
    json_str(icalcomponent_get_uid(event));
    key("sequence", 0);
    icalproperty *seq = icalcomponent_get_first_property(event, ICAL_SEQUENCE_PROPERTY);
    if (seq) printf("%d", icalproperty_get_sequence(seq));
    else fputs("null", stdout);
    print_text(event, "status", ICAL_STATUS_PROPERTY);
    print_text(event, "dtstamp", ICAL_DTSTAMP_PROPERTY);
    print_text(event, "summary", ICAL_SUMMARY_PROPERTY);
    print_text(event, "description", ICAL_DESCRIPTION_PROPERTY);
    print_text(event, "location", ICAL_LOCATION_PROPERTY);
    print_text(event, "url", ICAL_URL_PROPERTY);
    print_text(event, "comment", ICAL_COMMENT_PROPERTY);
    key("start", 0);
    print_time(vcal, event, ICAL_DTSTART_PROPERTY);
    key("end", 0);
    print_time(vcal, event, ICAL_DTEND_PROPERTY);
    key("organizer", 0);
    icalproperty *org = icalcomponent_get_first_property(event, ICAL_ORGANIZER_PROPERTY);
    if (org) print_person(org);
    else fputs("null", stdout);
    key("attendees", 0);
    putchar('[');
    int first = 1;
    for (icalproperty *p = icalcomponent_get_first_property(event, ICAL_ATTENDEE_PROPERTY); p;
         p = icalcomponent_get_next_property(event, ICAL_ATTENDEE_PROPERTY)) {
        if (!first) putchar(',');
        first = 0;
        print_person(p);
    }
    fputs("]}", stdout);
}

static void inspect(const char *text) {
    icalcomponent *root = icalparser_parse_string(text);
    if (!root) {
        fputs("{\"error\":\"libical could not parse the stream\"}", stdout);
        return;
    }
    int calendars = 0;
    icalcomponent *vcal = NULL;
    if (icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT) {
        calendars = 1;
        vcal = root;
    } else {
        for (icalcomponent *c = icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
             c; c = icalcomponent_get_next_component(root, ICAL_VCALENDAR_COMPONENT)) {
            if (!vcal) vcal = c;
            calendars++;
        }
    }
    if (!vcal) {
        fputs("{\"error\":\"no VCALENDAR\"}", stdout);
        icalcomponent_free(root);
        return;
    }
    int unused = 1;
    int parse_errors = count_errors(vcal, 0, &unused);
    int valid = icalrestriction_check(vcal);
    int all_errors = count_errors(vcal, 0, &unused);

    putchar('{');
    key("calendars", 1);
    printf("%d", calendars);
    key("method", 0);
    icalproperty *method = icalcomponent_get_first_property(vcal, ICAL_METHOD_PROPERTY);
    json_str(method ? icalproperty_method_to_string(icalproperty_get_method(method)) : NULL);
    key("restriction_valid", 0);
    fputs(valid ? "true" : "false", stdout);
    key("parse_errors", 0);
    printf("%d", parse_errors);
    key("restriction_errors", 0);
    printf("%d", all_errors - parse_errors);
    key("errors", 0);
    putchar('[');
    int first = 1;
    count_errors(vcal, 1, &first);
    putchar(']');
    key("timezones", 0);
    putchar('[');
    first = 1;
    for (icalcomponent *tz = icalcomponent_get_first_component(vcal, ICAL_VTIMEZONE_COMPONENT); tz;
         tz = icalcomponent_get_next_component(vcal, ICAL_VTIMEZONE_COMPONENT)) {
        if (!first) putchar(',');
        first = 0;
        icalproperty *tzid = icalcomponent_get_first_property(tz, ICAL_TZID_PROPERTY);
        json_str(tzid ? icalproperty_get_tzid(tzid) : NULL);
    }
    putchar(']');
    key("events", 0);
    putchar('[');
    first = 1;
    for (icalcomponent *ev = icalcomponent_get_first_component(vcal, ICAL_VEVENT_COMPONENT); ev;
         ev = icalcomponent_get_next_component(vcal, ICAL_VEVENT_COMPONENT)) {
        if (!first) putchar(',');
        first = 0;
        print_event(vcal, ev);
    }
    fputs("]}", stdout);
    icalcomponent_free(root);
}

int main(int argc, char **argv) {
    icalerror_set_errors_are_fatal(0);
    size_t length;
    char *text = read_all(stdin, &length);
    if (argc > 1 && strcmp(argv[1], "--batch") == 0) {
        /* Documents separated by NUL bytes. */
        putchar('[');
        size_t at = 0;
        int first = 1;
        while (at < length) {
            if (!first) putchar(',');
            first = 0;
            inspect(text + at);
            at += strlen(text + at) + 1;
        }
        fputs("]\n", stdout);
    } else {
        inspect(text);
        putchar('\n');
    }
    free(text);
    return 0;
}
