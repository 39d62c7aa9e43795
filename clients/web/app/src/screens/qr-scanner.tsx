/** Reading a QR code with the camera, where the browser can (its
 * BarcodeDetector: Chrome on Android, macOS, ChromeOS). */
import { useEffect, useRef, useState } from "preact/hooks";
import { defineTexts, t } from "../i18n.js";

defineTexts({
  "devices.scan_stop": ["Arrêter la caméra", "Stop the camera"],
  "devices.camera": ["Image de la caméra", "Camera view"],
  "devices.camera_unavailable": [
    "La caméra n'est pas disponible : collez le code à la place.",
    "The camera is not available: paste the code instead.",
  ],
});

interface DetectedCode {
  rawValue: string;
}

interface BarcodeDetectorLike {
  detect(source: HTMLVideoElement): Promise<DetectedCode[]>;
}

type BarcodeDetectorClass = new (options: { formats: string[] }) => BarcodeDetectorLike;

/** The browser's QR reader, where it has one. */
function barcodeDetector(): BarcodeDetectorClass | undefined {
  return (globalThis as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector;
}

/** Whether this browser can read a QR code. */
export function canScan(): boolean {
  return barcodeDetector() !== undefined;
}

const SCAN_EVERY_MS = 250;

/** The camera's picture until a QR code shows in it. */
export function Scanner({ found, stop }: { found: (text: string) => void; stop: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [unavailable, setUnavailable] = useState(false);
  useEffect(() => {
    const Detector = barcodeDetector() as BarcodeDetectorClass;
    const detector = new Detector({ formats: ["qr_code"] });
    let stream: MediaStream | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let over = false;
    const look = async () => {
      const shown = video.current;
      if (over || !shown) return;
      const codes = await detector.detect(shown).catch(() => []);
      const first = codes[0];
      if (first) found(first.rawValue);
      else timer = setTimeout(look, SCAN_EVERY_MS);
    };
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(
      async (opened) => {
        stream = opened;
        if (over || !video.current) return stopTracks(opened);
        video.current.srcObject = opened;
        await video.current.play();
        void look();
      },
      () => setUnavailable(true),
    );
    return () => {
      over = true;
      clearTimeout(timer);
      if (stream) stopTracks(stream);
    };
  }, []);
  return (
    <div>
      {unavailable ? (
        <p class="error" role="alert">
          {t("devices.camera_unavailable")}
        </p>
      ) : (
        <video ref={video} class="scanner" muted playsInline aria-label={t("devices.camera")} />
      )}
      <p>
        <button type="button" onClick={stop}>
          {t("devices.scan_stop")}
        </button>
      </p>
    </div>
  );
}

function stopTracks(stream: MediaStream): void {
  for (const track of stream.getTracks()) track.stop();
}
