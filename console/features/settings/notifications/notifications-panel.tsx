"use client";

import { ErrorMessage, Loading } from "@/components/ui/states";
import { useQuery } from "@/lib/use-query";
import { ChannelsSection } from "./channels-section";
import { DeliveryLog } from "./delivery-log";
import { NOTIFICATIONS } from "./queries";
import { RulesSection } from "./rules-section";

/**
 * Settings → Notifications (admins only): channels, the rules that route events to them, and the
 * delivery log. One query feeds all three, and every change refetches it, so a test or a retry shows
 * up in the log and in the channel's last status at once.
 */
export function NotificationsPanel() {
  const { data, error, refetch } = useQuery(NOTIFICATIONS);
  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading notifications" />}</>;
  return (
    <>
      <ChannelsSection data={data} refetch={refetch} />
      <RulesSection data={data} refetch={refetch} />
      <DeliveryLog data={data} refetch={refetch} />
    </>
  );
}
