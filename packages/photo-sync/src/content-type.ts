import { Mime } from "mime/lite";
import otherTypes from "mime/types/other.js";
import standardTypes from "mime/types/standard.js";

// Camera raw and sidecar formats that a photo library holds and the mime database does not name.
const photoTypes: Record<string, string[]> = {
  "image/x-canon-cr2": ["cr2"],
  "image/x-canon-cr3": ["cr3"],
  "image/x-canon-crw": ["crw"],
  "image/x-nikon-nef": ["nef"],
  "image/x-nikon-nrw": ["nrw"],
  "image/x-sony-arw": ["arw"],
  "image/x-sony-srf": ["srf"],
  "image/x-sony-sr2": ["sr2"],
  "image/x-fuji-raf": ["raf"],
  "image/x-olympus-orf": ["orf"],
  "image/x-panasonic-rw2": ["rw2"],
  "image/x-pentax-pef": ["pef"],
  "image/x-samsung-srw": ["srw"],
  "image/x-leica-rwl": ["rwl"],
  "image/x-hasselblad-3fr": ["3fr"],
  "image/x-phaseone-iiq": ["iiq"],
  "application/rdf+xml": ["xmp"],
};

// Built on the first upload, not at import: the table of ~1,000 types costs ~15 ms of start-up CPU, which a run
// with nothing to upload (issue 15 (b)) never needs.
let mime: Mime | undefined;

/** Content type for a key by its extension; `application/octet-stream` when unknown (e.g. `.lrcat`). */
export function contentTypeFor(key: string): string {
  mime ??= new Mime(standardTypes, otherTypes).define(photoTypes, true);
  return mime.getType(key) ?? "application/octet-stream";
}
