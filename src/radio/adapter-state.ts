/**
 * What a stack's adapter state means for a person (noble and bleno report the same state names).
 * Used when no more precise reason came from the HCI layer (src/radio/hci/reports.ts).
 */
export function adapterStateText(state: string): string {
  switch (state) {
    case "unauthorized":
      return "permission denied (node needs the cap_net_raw capability, or root)";
    case "unsupported":
      return "the adapter does not support Bluetooth LE (pick another with --hci hciN)";
    case "poweredOff":
      return "the adapter is powered off or down (`bluetoothctl power on`, or `sudo hciconfig hci0 up`; for --hci unix:/tcp: is `openclaw air` running?)";
    default:
      return `the adapter reports state ${state}`;
  }
}
