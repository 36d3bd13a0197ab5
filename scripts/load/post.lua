-- wrk script: POST a 2-line Declaratiebericht with a fresh Identificatie and
-- fresh ReferentieNummers per request (no request is a replay), from the
-- template samples/declaratie-maart-2024.xml as the gateway expects it.
local counter = 0
local threads = {}
local prefix = "W"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  prefix = string.format("W%s%x", os.getenv("LOAD_RUN") or "0", tid)
  wrk.headers["Content-Type"] = "application/xml"
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("LOAD_TOKEN") or "voorbeeld-token-12345678")
end

local template = [[<?xml version="1.0" encoding="UTF-8"?><Declaratiebericht xmlns="urn:zio-gateway:declaratie:1"><Header><BerichtIdentificatie><Identificatie>%s</Identificatie><Dagtekening>2024-04-02</Dagtekening></BerichtIdentificatie><Afzender>12345678</Afzender><Ontvanger>5509</Ontvanger><Declaratieperiode><Begindatum>2024-03-01</Begindatum><Einddatum>2024-03-31</Einddatum></Declaratieperiode></Header><Clienten><Client><Bsn>111222333</Bsn><Geboortedatum>2014-06-12</Geboortedatum><Besluitnummer>4100001</Besluitnummer><Prestaties><Prestatie><ReferentieNummer>%s-1</ReferentieNummer><ProductCode>H307</ProductCode><Begindatum>2024-03-04</Begindatum><Einddatum>2024-03-08</Einddatum><GeleverdVolume>10</GeleverdVolume><Eenheid>04</Eenheid><ProductTarief>7650</ProductTarief><Bedrag>76500</Bedrag><DebetCredit>D</DebetCredit><Onderwijstijd>true</Onderwijstijd><Brin>12AB</Brin></Prestatie><Prestatie><ReferentieNummer>%s-2</ReferentieNummer><ProductCode>H300</ProductCode><Begindatum>2024-03-11</Begindatum><Einddatum>2024-03-15</Einddatum><GeleverdVolume>90</GeleverdVolume><Eenheid>01</Eenheid><ProductTarief>7650</ProductTarief><Bedrag>11475</Bedrag><DebetCredit>D</DebetCredit></Prestatie></Prestaties></Client></Clienten><Totalen><AantalPrestaties>2</AantalPrestaties><TotaalDebet>87975</TotaalDebet><TotaalCredit>0</TotaalCredit></Totalen></Declaratiebericht>]]

function request()
  counter = counter + 1
  local id = string.format("%s-%x", prefix, counter)
  return wrk.format("POST", nil, nil, string.format(template, id, id, id))
end

function done(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
