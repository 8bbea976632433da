"""iCalendar invitations (iMIP/iTIP) and calendar backends. Built in the meetings work."""
