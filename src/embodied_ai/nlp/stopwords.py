"""English function words, left out of keywords and summary scores (they say how, not what, a text is about)."""

from __future__ import annotations

STOP_WORDS = frozenset("""
a about above after again against all almost also although always am among an and another any anyone anything are
around as at away back be became because become becomes been before being below between both but by can cannot could
did do does doing done down during each either else enough etc even ever every few first for from further get gets
getting give given go goes going got had has have having he her here hers herself him himself his how however i if in
into is it it's its itself just last least less let like made make makes many may me might more most much must my
myself neither never next no nobody none nor not nothing now of off often on once one only onto or other others our
ours ourselves out over own per perhaps put quite rather really said same say says see seem seems several shall she
should since so some something sometimes still such than that that's the their theirs them themselves then there
there's these they they're this those though through thus till to together too toward towards under until up upon us
use used uses using very via was we we're well were what whatever when where whether which while who whom whose why
will with within without would yet you you're your yours yourself yourselves
i'm i've i'd i'll you've you'd you'll he's she's we've we'd we'll they've they'd they'll isn't aren't wasn't weren't
don't doesn't didn't won't wouldn't can't couldn't shouldn't hasn't haven't hadn't
""".split())
