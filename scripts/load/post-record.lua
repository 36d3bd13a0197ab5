-- wrk script: scripts/load/post.lua's requests (a 2-line Declaratiebericht,
-- fresh ids per request), and every answer written down, one line each, to
-- $ANSWERS.<thread>:
--   <HeenberichtIdentificatie> <Verwerking> <AantalGeaccepteerd>   (200)
--   #<status>                                                     (else)
-- so scripts/load-faults.sh can check the answered messages in the ledger.
dofile("scripts/load/post.lua")

local base_init = init
local out

function init(args)
  base_init(args)
  out = assert(io.open((os.getenv("ANSWERS") or "answers") .. "." .. tid, "w"))
  -- One write per answer: nothing is lost in a buffer when wrk exits.
  out:setvbuf("line")
end

function response(status, headers, body)
  if status == 200 then
    local id = body:match("<HeenberichtIdentificatie>%s*<Identificatie>([^<]*)</Identificatie>")
    local verwerking = body:match("<Verwerking>([^<]*)</Verwerking>")
    local accepted = body:match("<AantalGeaccepteerd>(%d+)</AantalGeaccepteerd>")
    out:write(string.format("%s %s %s\n", id or "-", verwerking or "-", accepted or "0"))
  else
    out:write(string.format("#%d\n", status))
  end
end
