// Read one iCalendar stream on stdin with ical.js (the parser Thunderbird uses) and
// print what a client would take from it, as JSON on stdout.
//
//   node icaljs_check.mjs <directory holding node_modules/ical.js>  < invite.ics
//   node icaljs_check.mjs <directory> --batch  < ["ics text", ...]  (JSON in and out)
//
// Times are resolved only through the VTIMEZONE blocks embedded in the stream (ical.js
// has no zone database of its own): "zone" says where each time's offset came from.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const base = process.argv[2];
if (!base) {
  console.error("usage: icaljs_check.mjs <tests/js directory>");
  process.exit(2);
}
const moduleDir = join(base, "node_modules", "ical.js");
const pkg = JSON.parse(readFileSync(join(moduleDir, "package.json"), "utf8"));
const entry = (pkg.exports && pkg.exports.import) || pkg.module || pkg.main;
const ICAL = (await import(pathToFileURL(join(moduleDir, entry)).href)).default;

function time(prop) {
  if (!prop) return null;
  const value = prop.getFirstValue();
  const zone = value.zone;
  let source;
  if (value.isDate) source = "date";
  else if (zone === ICAL.Timezone.utcTimezone) source = "utc";
  else if (zone && zone.component) source = "embedded";
  else source = "floating";
  return {
    value: value.toString(),
    tzid: prop.getParameter("tzid") || null,
    zone: source,
    is_date: value.isDate,
    utc: value.isDate ? null : new Date(value.toUnixTime() * 1000).toISOString(),
  };
}

function person(prop) {
  return {
    value: prop.getFirstValue(),
    cn: prop.getParameter("cn") ?? null,
    role: prop.getParameter("role") ?? null,
    partstat: prop.getParameter("partstat") ?? null,
    rsvp: prop.getParameter("rsvp") ?? null,
    cutype: prop.getParameter("cutype") ?? null,
  };
}

function inspect(text) {
  const parsed = ICAL.parse(text);
  // Several VCALENDARs in one stream come back as a list of jCal objects.
  const many = Array.isArray(parsed[0]);
  const root = new ICAL.Component(many ? parsed[0] : parsed);
  return {
    calendars: many ? parsed.length : 1,
    method: root.getFirstPropertyValue("method"),
    prodid: root.getFirstPropertyValue("prodid"),
    version: root.getFirstPropertyValue("version"),
    timezones: root.getAllSubcomponents("vtimezone").map((tz) => ({
      tzid: tz.getFirstPropertyValue("tzid"),
      blocks: tz.getAllSubcomponents().map((b) => b.name),
    })),
    events: root.getAllSubcomponents("vevent").map((ev) => {
      const organizer = ev.getFirstProperty("organizer");
      return {
        uid: ev.getFirstPropertyValue("uid"),
        sequence: ev.getFirstPropertyValue("sequence"),
        status: ev.getFirstPropertyValue("status"),
        dtstamp: ev.getFirstPropertyValue("dtstamp")?.toString() ?? null,
        summary: ev.getFirstPropertyValue("summary"),
        description: ev.getFirstPropertyValue("description"),
        location: ev.getFirstPropertyValue("location"),
        url: ev.getFirstPropertyValue("url"),
        comment: ev.getFirstPropertyValue("comment"),
        start: time(ev.getFirstProperty("dtstart")),
        end: time(ev.getFirstProperty("dtend")),
        organizer: organizer ? person(organizer) : null,
        attendees: ev.getAllProperties("attendee").map(person),
      };
    }),
  };
}

function safely(text) {
  try {
    return inspect(text);
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
}

const input = readFileSync(0, "utf8");
const result =
  process.argv[3] === "--batch" ? JSON.parse(input).map(safely) : safely(input);
process.stdout.write(JSON.stringify(result) + "\n");
