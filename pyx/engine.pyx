# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The stack engine: the host's receive path, TCP listeners and established
TCP sockets through teardown and TIME_WAIT.

One nogil loop per batch over parsed rows (PacketColumns) writes one row of
Verdicts per packet, keeps SNMP/netstat counters (pystack.vocab order), and
runs the host's timers in capture time.  State lives in C arrays: the 4-tuple
table (demux.pxd), listeners, a binary heap of timers, a direct-mapped
syncookie table.  Nothing is allocated per packet: tables grow (at most
geometrically) in begin_batch(), before the loop.

Kernel code modelled (Linux 6.18; sheet = /work/shared/linux-semantics.md)
--------------------------------------------------------------------------
* net/ipv4/ip_input.c ip_rcv_core (sheet 1.1): InReceives/InOctets (skb->len
  = wire length minus link header, padding included), ECN counters (only
  when version 4 and ihl >= 5, i.e. past checks 4-5), InHdrErrors (IP_INHDR),
  IP_CSUM (InHdrErrors + InCsumErrors), PKT_TOO_SMALL (InTruncatedPkts).
  ip_local_deliver / ip_protocol_deliver_rcu (sheet 1.3): InDelivers after
  the L4 handler (even when TCP then drops); no handler -> InUnknownProtos,
  IP_NOPROTO.  net/ipv6/ip6_input.c ip6_rcv_core / ip6_protocol_deliver_rcu:
  the Ip6 equivalents (version != 6 is UNHANDLED_PROTO, counted InHdrErrors;
  Ip6 ECN counters after the version check).
* net/ipv4/tcp_ipv4.c tcp_v4_rcv (sheet 1.4; tcp_v6_rcv alike): pkt_type,
  InSegs, doff < 5 (InErrs, PKT_TOO_SMALL), checksum (InCsumErrors + InErrs,
  TCP_CSUM, per pystack.checksums.ChecksumPolicy), ehash then listener
  lookup, no socket -> NO_SOCKET + tcp_v4_send_reset (OutRsts + OutSegs; RST
  format of sheet 1.4 item 7), tcp_v4_do_rcv for LISTEN: tcp_v4_cookie_check
  then tcp_input.c tcp_rcv_state_process LISTEN (ACK -> RST / TCP_FLAGS;
  RST -> TCP_RESET; SYN+FIN -> TCP_FLAGS; SYN -> conn_request).
* net/ipv4/inet_hashtables.c __inet_lookup_listener (sheet 8.2): exact
  address before wildcard, AF_INET before a dual-stack [::] socket; an
  SO_REUSEPORT group member is chosen as reciprocal_scale(hash, n) with the
  engine's seeded 4-tuple hash (the kernel's secret is unknowable).
* net/ipv4/tcp_input.c tcp_conn_request + tcp_syn_flood_action (sheet 4.2):
  syncookies==2 or SYN queue full (profile) -> TCPReqQFullDoCookies / (off)
  TCPReqQFullDrop + ListenDrops; accept queue full -> ListenOverflows +
  ListenDrops, no SYN-ACK; options cleared for a cookie without timestamps;
  tcp_max_syn_backlog 3/4 rule when syncookies == 0 (tcp_peer_is_proven is
  taken as false: no tcp_metrics); cookie -> SyncookiesSent, tcp_synq_overflow
  stamp, no request sock; else request sock in ehash (qlen, young) + timer.
  SYN-ACK (Tcp OutSegs) window per tcp_minisocks.c tcp_openreq_init_rwin /
  tcp_output.c tcp_select_initial_window (computed per listener in
  pystack/replay.py from profile + sysctls + effective rcvbuf).
* net/ipv4/syncookies.c cookie_v4_check (sheet 4.3): only for non-SYN ACKs
  without RST while tcp_synq_no_recent_overflow() is false; valid ->
  SyncookiesRecv + child via syn_recv_sock (accept queue full: ListenOverflows
  + ListenDrops, NO_SOCKET, never a RST); invalid -> SyncookiesFailed and
  the LISTEN path (RST).
* net/ipv4/tcp_minisocks.c tcp_check_req (sheet 4.4): timestamps (saw_tstamp
  needs only the tcp_timestamps sysctl): TSecr outside [snt_tsval_first,
  snt_tsval_last] when tstamp_ok -> TSEcrRejected, TCP_RFC7323_TSECR;
  tcp_paws_reject against req->ts_recent with ts_recent_stamp = now -
  reqsk_timeout / HZ -> PAWSEstab, TCP_RFC7323_PAWS (both: the out-of-window
  ACK, rate limited; a PAWS-rejected SYN is no retransmission); in sequence
  -> req->ts_recent = TSval.  Retransmitted SYN ->
  SYN-ACK again (RetransSegs, TCPSynRetrans, OutSegs; tcp_oow_rate_limited
  with tcp_invalid_ratelimit -> TCPACKSkippedSynRecv) and the timer re-armed
  (mod_timer_pending); ACK with a wrong ack_seq -> the listener (cookie check,
  RST); out of window -> dup ACK (rate limited); RST/SYN in window ->
  AttemptFails + embryonic reset (RST unless the segment is a RST, unlink,
  EmbryonicRsts); tcp_v4_syn_recv_sock accept-queue overflow ->
  ListenOverflows + ListenDrops, TCP_LISTEN_OVERFLOW, then abort_on_overflow
  0: req->acked, silent; 1: RST (seq = ack_seq), unlink, EmbryonicRsts;
  success -> PassiveOpens, the child replaces the request sock in ehash,
  accept queue, ESTABLISHED (CurrEstab).
* net/ipv4/inet_connection_sock.c reqsk_timer_handler / syn_ack_recalc (sheet
  4.5): timeout = TCP_TIMEOUT_INIT << num_timeout capped at tcp_rto_max;
  queue pruning when 2*qlen > max(8, backlog) (young requests); every fire
  TCPTimeouts (tcp_syn_ack_timeout); resend -> RetransSegs + TCPSynRetrans +
  OutSegs; expiry (num_timeout >= retries) -> request dropped (qlen--).
* Accept: the application model (pystack/appmodel.py) dequeues children
  from the accept queue (inet_csk_accept is FIFO) at capture times.

Established sockets (passively opened children; sheet 5, 7, 8.3)
----------------------------------------------------------------
* Child init (sheet 5.3): tcp_create_openreq_child (rcv_wnd = the SYN-ACK's
  rsk_rcv_wnd, rcv_wup = rcv_nxt, rcv_ssthresh = rcv_wnd), rsk_window_clamp
  (tcp_openreq_init_rwin: full space when SO_RCVBUF locked it, else
  65535 << 14, capped at 65535 << rcv_wscale), tcp_init_buffer_space
  (tcp_app_win reservation: 64076 at defaults), tcp_initialize_rcv_mss.
  sk_rcvbuf = the listener's effective rcvbuf (pystack.config).
* tcp_v4_do_rcv -> tcp_rcv_established (slow path only) / tcp_rcv_state_process:
  no ACK/RST/SYN -> TCP_FLAGS; tcp_validate_incoming: PAWS first (only when
  timestamps were negotiated: SYN and SYN-ACK both carried them and
  tcp_timestamps; include/net/tcp.h tcp_paws_check with TCP_PAWS_WINDOW,
  ts_recent 0 never rejects, ts_recent_stamp older than TCP_PAWS_24DAYS of
  capture time passes; tcp_disordered_ack_check: a duplicate pure ACK at
  rcv_nxt that updates no window within tcp_tsval_replay passes; RST
  exempt; SYN -> the SYN challenge; an old pure ACK (seq < rcv_nxt) ->
  PAWSOldAck, TCP_RFC7323_PAWS_ACK, no dupack (6.15+ profiles); else
  PAWSEstab, TCP_RFC7323_PAWS, dupack rate limited TCPACKSkippedPAWS),
  tcp_replace_ts_recent / tcp_store_ts_recent in tcp_ack (segment not after
  rcv_wup and tcp_paws_check(0): ts_recent and ts_recent_stamp; snd_wl1 by
  tcp_may_update_window / tcp_update_wl); tcp_sequence in the
  profile's form (6.17+: TCP_OLD_SEQUENCE / TCP_INVALID_SEQUENCE /
  TCP_INVALID_END_SEQUENCE when the receive queue is not empty, FIN
  exception per profile, BeyondWindow; pre-6.17: seq test only), dupack via
  tcp_oow_rate_limited (TCPACKSkippedSeq; data without SYN never limited) and
  tcp_send_dupack (DelayedACKLost + quickack for old data); RST at rcv_nxt
  (or rcv_nxt - 1 in CLOSE_WAIT / LAST_ACK / CLOSING, tcp_reset_check) ->
  tcp_reset (consumed, not a drop); other RST in window -> challenge ACK
  (tcp_send_challenge_ack: per-socket limit TCPACKSkippedChallenge,
  TCPChallengeACK; tcp_challenge_ack_limit is INT_MAX by default), TCP_RESET;
  SYN -> TCPSYNChallenge (+ InErrs from ESTABLISHED), challenge ACK,
  TCP_INVALID_SYN.
* tcp_ack: the ACK-field checks first (only when the host's side is in the
  capture: XF_HOST_SEEN): after snd_nxt -> TCP_ACK_UNSENT_DATA (dropped;
  a challenge ACK outside ESTABLISHED, tcp_rcv_state_process); before
  snd_una - min(max_window, bytes_acked) -> TCP_TOO_OLD_ACK + challenge
  ACK; before snd_una -> old ACK, ignored (no window or ts_recent update;
  the segment goes on -- TCP_OLD_ACK is only returned for a full SYN_RECV
  socket, which the model never has).  Then tcp_replace_ts_recent, snd_una
  (bounded by the host's snd_nxt), the peer's window (scaled by its SYN
  wscale; max_window) and the peer's zero-window periods; the FIN
  transitions FIN_WAIT1 -> FIN_WAIT2, CLOSING -> TIME_WAIT, LAST_ACK ->
  CLOSE when the ACK covers the host's FIN.  tcp_rcv_state_process step 7:
  in CLOSE_WAIT / CLOSING / LAST_ACK a segment at or after rcv_nxt is not
  queued (dropped NOT_SPECIFIED).
* tcp_data_queue (sheet 5.6): pure ACK consumed; in order: zero window ->
  TCP_ZEROWINDOW + TCPZeroWindowDrop (bare FIN accepted); admission
  tcp_try_rmem_schedule -> tcp_can_ingest (profile variant) -> tcp_prune_queue
  (PruneCalled; tcp_clamp_window: unlocked rcvbuf grows to rmem_alloc up to
  tcp_rmem[2], else rcv_ssthresh = min(window_clamp, 2 * advmss);
  tcp_prune_ofo_queue from the right end, never past the new skb, goal
  rcvbuf/8, OfoPruned; RcvPruned) -> ICSK_ACK_NOMEM | ICSK_ACK_NOW and
  PROTO_MEM + TCPRcvQDrop if the queue is not empty, forced acceptance if
  it is; old data -> TCP_OLD_DATA + DelayedACKLost; beyond the window ->
  TCP_OVERWINDOW; partial overlap queued (or TCP_ZEROWINDOW); out of order
  -> tcp_data_queue_ofo (TCPOFOQueue; all bits present -> TCPOFOMerge,
  TCP_OFOMERGE; covering skbs replace / remove the covered, TCPOFOMerge;
  memory failure -> TCPOFODrop, PROTO_MEM); tcp_ofo_queue drains when the
  hole fills (ICSK_ACK_NOW when the OFO queue empties); tcp_fin (CLOSE_WAIT
  + pingpong, FIN_WAIT1 -> CLOSING with an ACK, FIN_WAIT2 -> TIME_WAIT with
  an ACK; OFO data after the FIN purged).
* tcp_event_data_recv: ACK scheduled, tcp_measure_rcv_mss (segments >=
  rcv_mss only; scaling_ratio = len * 256 / truesize when the length is new,
  window_clamp per profile: tcp_set_window_clamp (6.12.y / 6.18, measured)
  or assigned (7.x), rcvq_space.space capped at it), tcp_rcv_rtt_measure
  (one RTT sample per window of data, min only), tcp_incr_quickack at the
  first data, tcp_grow_window / __tcp_grow_window (no memory pressure).
* Receive-buffer autotuning (sheet 5.5, 10.6; tcp_moderate_rcvbuf=1 and no
  SO_RCVBUF): tcp_init_buffer_space's rcvq_space (min3(rcv_ssthresh,
  rcv_wnd, 10 * advmss); advmss without the TS option from 6.16),
  tcp_rcv_rtt_measure_ts after tcp_ack (TSecr against the host's TS clock,
  known from captured host TSvals -- the SYN-ACK's included -- with the tick
  phase bracketed by value changes; 6.16+ drops zero deltas and smooths
  larger samples only with an empty receive queue), tcp_rcv_space_adjust
  after each skb an application read copies (on the read's time; 6.16+
  subtracts the bytes still queued), tcp_rcvbuf_grow (6.18 slow-start term,
  7.x tcp_rcvbuf_low_rtt variant, the OFO span; also after OFO queueing on
  accepted sockets) or the 6.12 formula; sk_rcvbuf capped at tcp_rmem[2],
  window_clamp follows.  Not modelled: the socket backlog while the
  application holds the socket lock (segments arriving during a read are
  counted in sk_backlog.len by tcp_space, which holds tcp_grow_window back
  in the kernel), the small-segment branch of tcp_measure_rcv_mss.
* ACK emission (the model's own ACKs: Verdicts.reply = ACK, or timer events
  DELACK / WINDOW_UPDATE in ReplayResult.replies): __tcp_ack_snd_check (more
  than one rcv_mss unacked and the window not shrinking, quickack mode and
  not pingpong, ICSK_ACK_NOW; out-of-order: SACK compression after
  TCP_FASTRETRANS_THRESH dupacks for one rcv_nxt -- the compressed ACK
  itself is not recorded), tcp_send_delayed_ack with ato = TCP_ATO_MIN
  (older deadline kept, ACK now when it is within ato/4), the delack timer
  (DelayedACKs), tcp_cleanup_rbuf after application reads (ACK owed and
  more than rcv_mss unacked, or the window at least doubles from <= half
  the clamp).  Every ACK goes through tcp_select_window / __tcp_select_window
  (sheet 5.4): SWS avoidance, never shrink (TCPWantZeroWindowAdv), ALIGN to
  1 << wscale, wscale 0 mss rounding, the NOMEM zero window,
  TCPToZeroWindowAdv / TCPFromZeroWindowAdv.
* Verdicts.adv_win: for rows of a modelled connection, the window (bytes,
  already scaled) the host's next ACK would carry after this row, computed
  without side effects.  For every captured host segment with ACK on a
  modelled connection: win_diff = captured window << rcv_wscale - model's
  window (divergences window_compared / window_mismatch, and per
  connection).
* Transmit-side accounting: every packet the host sends is counted once in
  Ip OutRequests / OutTransmits / IpExt OutOctets (ip_output.c
  __ip_local_out, ip_finish_output2; Ip6OutRequests / Ip6OutTransmits /
  Ip6OutOctets by ip6_output.c) with its IP length.  The packets the model
  builds itself are counted where it builds them, with Linux's lengths:
  SYN-ACKs (also retransmitted, tcp_synack_options), RSTs (tcp_v4_send_reset:
  no options), request-sock / TIME_WAIT ACKs (tcp_v4_send_ack: timestamps iff
  ts_recent != 0), full-socket ACKs (tcp_established_options: timestamps,
  SACK blocks for the out-of-order ranges and a pending D-SACK), ICMP port
  unreachables (icmp_send: at most 576 bytes; IPv6 icmp6_send: at most
  1280) and echo replies (IPv4 and IPv6).  The captured
  host packets of kinds the model never builds are counted when seen
  (Engine._host_tx): data / FIN (OutSegs for new sequence space, RetransSegs
  otherwise, as __tcp_transmit_skb), a RST on a full socket
  (tcp_send_active_reset: OutRsts), probes, segments of 4-tuples the model
  does not hold, UDP (OutDatagrams / Udp6OutDatagrams), other ICMP and
  ICMPv6 (OutMsgs + the type's counter when kept), fragments.
* Host segments (OUT, open loop): snd_nxt from their sequence space (from
  the first seen one if the SYN-ACK was not captured), the host's FIN
  (ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT -> LAST_ACK), a host RST -> tcp_done
  (EstabResets as tcp_set_state counts it).  A host segment carrying data
  or FIN is an ACK the host really sent: it runs tcp_select_window with its
  side effects and clears the pending ACK (tcp_event_ack_sent); a pure host
  ACK is only compared (the model decides its own ACKs: closed loop).
* tcp_set_state: CurrEstab counts ESTABLISHED and CLOSE_WAIT (6.10+),
  EstabResets on ESTABLISHED / CLOSE_WAIT -> CLOSE.  Closed sockets are
  unhashed and their Sock freed (a child still in the accept queue is kept
  until the application model accepts it).
* tcp_time_wait / tcp_minisocks.c tcp_timewait_state_process (sheet 8.3):
  a TIME_WAIT minisock (own Sock) for TCP_TIMEWAIT_LEN (TW counter; live
  minisocks >= tcp_max_tw_buckets -> TCPTimeWaitOverflow, no minisock);
  tcp_paws_reject against tw_ts_recent / tw_ts_recent_stamp (a RST passes
  once the stamp is TCP_PAWS_MSL old) -> the profile's counter (PAWSTimewait
  6.16+, PAWSEstab before), TCP_RFC7323_TW_PAWS, timer restarted, ACK;
  not PAWS-rejected and seq == rcv_nxt: bare ACK restarts the timer, RST
  kills it (tcp_rfc1337 = 0), TSval stored; SYN without ACK/RST, not
  PAWS-rejected, with seq > rcv_nxt or a newer TSval -> TCP_TW_SYN:
  the listener handles it as a new connection with ISN tw_snd_nxt + 65537,
  skipping the SYN-queue / syncookie test and the 3/4 rule; otherwise ACK
  (tcp_v4_timewait_ack, rate limited TCPACKSkippedTimeWait; the timer is
  restarted for ACK segments), RST ignored.  TW segments are freed
  NOT_SPECIFIED (tcp_v4_rcv discard_it).
* Receive queue and OFO queue: skbs in a pool (SkbEnt) grown between
  batches; rmem_alloc = sum of truesize, truesize = len * mul / 256 + add
  (Replay(truesize=(mul, add)); default (256, profile.skb_truesize_overhead)
  = profile.skb_truesize(len) = len + 576, a linear skb).
* Application reads (pystack.appmodel; nothing before accept): as-arrives
  (all queued data after each row and at accept), rate (timer when the
  byte allowance covers the head skb), chunk (accept + k * every, only
  while data waits), never, log (rows filtered by client port / address,
  times after accept or absolute).  A read frees fully read skbs
  (sk_eat_skb).
* ReplayResult.connections: one summary per child (ConnRec, REC_DTYPE rows;
  Engine.take_finished per batch for the connections finished in it,
  Engine.open_records at the end for the open ones, connection_dicts):
  conn_id, 4-tuple, listener, start/end ns, final state, why it ended (FIN,
  RST, TW_OVERFLOW, OPEN at the end of the capture; TIMEOUT is reserved --
  no timeout timer is modelled), bytes/packets per direction, drops by
  reason, the model's zero-window advertisements and their total time, the
  peer's zero-window periods, max receive queue, host bytes in flight, the
  peer's last window, window comparisons / mismatches, divergences (total
  model-vs-capture disagreements on the connection), picked_up.
* Output tables (pystack.results; Engine.enable_output): Verdicts.rcv_queue
  (payload bytes queued and unread after the row); window/queue samples
  (Sample, a row whenever a socket's receive queue, advertised window,
  peer window or bytes in flight, or a listener's SYN / accept queue
  changes, after rows, accepts and timers) and counter snapshots at every
  interval boundary of capture time, both in preallocated buffers drained
  once per batch (take_samples, take_counter_snapshots); ConnRec.states /
  req_ns / acq_ns / accepted_ns for the connections table.  The host's send
  queue is not modelled (open loop), so it is not sampled.
* Pick-up (Replay(pickup=True), the default): a captured host ACK or data
  segment (no SYN/FIN/RST) on an unknown 4-tuple from a listening port
  creates an accepted ESTABLISHED child ("picked_up": the connection
  predates the capture): rcv_nxt = its ack, snd_nxt = its end, rcv_wnd =
  its window << the listener's wscale; the peer's wscale is unknown (0),
  the listener's window scale is assumed negotiated; timestamps are in use
  if the host segment carries them, ts_recent = its TSecr (PAWS applies).
  CurrEstab counts it, PassiveOpens does not.  Peer segments before the first host segment
  still meet the listener (RST), as in a kernel without the socket.

Open-loop replay decisions (documented approximations)
-------------------------------------------------------
* Established sockets: the model's receive side is closed loop (its own
  ACKs move rcv_wup / rcv_wnd, count the window counters and clear the
  pending ACK), except for host segments carrying data or a FIN (see
  above).  Delayed-ACK ato is fixed at TCP_ATO_MIN (40 ms): the ato
  adaptation of tcp_event_data_recv, the delack timer's ato inflation, the
  "long gap -> quickack" rule (needs icsk_rto) and ICSK_ACK_PUSHED are not
  modelled; pingpong is entered by tcp_fin and by a host data segment
  sent within ato of the last received data (tcp_event_data_sent,
  tcp_pingpong_thresh = 1), left by tcp_enter_quickack_mode and the delack
  timer.
* skb coalescing (tcp_try_coalesce / skb_try_coalesce, TCPRcvCoalesce) as
  the driver's skbs allow (coalesce_mode, host skb_coalesce: none = every
  segment keeps its own skb, frags, head, veth clones; see _try_coalesce);
  the tailroom copy only for zero-length (FIN) skbs.  No backlog coalescing
  (tcp_add_backlog, TCPBacklogCoalesce: the socket lock is not modelled) and
  no collapsing (tcp_collapse, TCPRcvCollapsed).
* truesize is invisible in a pcap: the engine's linear model (truesize_mul,
  truesize_add) feeds rmem_alloc and scaling_ratio (scaling_ratio_update=0
  keeps the initial ratio fixed).  tcp_mem / memory pressure
  (sk_rmem_schedule) always succeeds.
* net/ipv4/udp.c __udp4_lib_rcv (net/ipv6/udp.c alike): short header /
  bad length -> UdpInErrors; bound socket (config listeners with proto udp,
  looked up like TCP listeners) -> DELIVERED and __udp_queue_rcv_skb ->
  __udp_enqueue_schedule_skb (6.18): rmem_alloc + truesize > sk_rcvbuf
  with a non-empty queue (or rcvbuf > INT_MAX / 2) -> RcvbufErrors +
  InErrors, SOCKET_RCVBUFF (Udp / Udp6 by the packet's family); sk_rcvbuf
  = rmem_default or the SO_RCVBUF value; truesize = the truesize model of
  the payload length.  The socket's read model (pystack.appmodel, origin =
  its first datagram; as-arrives / rate / chunk / never / log rows without
  client filters) drains the queue on capture-time timers: udp_recvmsg
  takes whole datagrams (a short read truncates but consumes it), counts
  InDatagrams at read time and frees the truesize; EV_READ events
  (conn_id -1, ack = bytes read, seq = bytes left); bad checksum -> InCsumErrors +
  InErrors (UDP_CSUM), checked before NoPorts; no socket -> NoPorts,
  NO_SOCKET and (IPv4) icmp_send(PORT_UNREACH) under net/ipv4/icmp.c
  icmpv4_global_allow / icmp_global_allow (icmp_msgs_per_sec/burst, random
  0-2 credits consumed per message, 6.11+) and icmpv4_xrlim_allow /
  inetpeer.c inet_peer_xrlim_allow (icmp_ratelimit, burst factor 6, a new
  peer starts with a full bucket): IcmpOutRateLimitGlobal / ...Host, else
  IcmpOutMsgs + IcmpOutDestUnreachs.  Jiffies are taken at HZ = 1000.
* net/ipv4/icmp.c icmp_rcv: IcmpInMsgs, checksum (InCsumErrors + InErrors,
  ICMP_CSUM), type > NR_ICMP_TYPES (InErrors), InDestUnreachs, InEchos and
  the echo reply (icmp_echo_ignore_all; not rate limited: type 0 is not in
  icmp_ratemask): IcmpOutMsgs + IcmpOutEchoReps.
* net/ipv6/udp.c __udp6_lib_rcv -> icmpv6_send(DEST_UNREACH, PORT_UNREACH)
  and net/ipv6/icmp.c icmpv6_rcv / icmpv6_echo_reply (Engine._icmp6_rcv,
  _icmp6_port_unreach, _icmp6_xmit_allowed): Udp6NoPorts, then the ICMPv6
  error unless the destination is multicast / not PACKET_HOST or the source
  unspecified; Icmp6InMsgs / InCsumErrors / InErrors / per-type In
  counters; echo requests answered unless net.ipv6.icmp.echo_ignore_all.
  Rate limits (6.18.44): types in net.ipv6.icmp.ratemask (default
  0-1,3-127: errors, not echo replies) pass the shared icmp_global_allow
  bucket (refusal: IcmpOutRateLimitGlobal, the IPv4 counter, as the kernel
  counts it) and the IPv6 inet_peer bucket of net.ipv6.icmp.ratelimit
  (100 ms, burst 6x; refusal: Icmp6OutRateLimitHost); loopback: no limit.
  The verdicts reply column carries R_ICMP_PORT_UNREACH / R_ICMP_ECHO_REPLY
  for both families (the packet's family says which).  Checked against the
  real kernel: tests/udp/data/icmp6-host (record.py there).

Open-loop replay decisions (documented approximations)
-------------------------------------------------------
* The peer's final ACK acknowledges the REAL host's ISN.  A captured host
  SYN-ACK (direction OUT) teaches the request sock (or cookie entry) that ISN
  and then the ACK is checked exactly (ack_seq == ISN + 1).  Without it the
  ACK is valid if it acknowledges the model's own ISN, and otherwise it is
  ASSUMED to match (divergence counter ack_isn_assumed / cookie_isn_assumed).
* Syncookies: valid iff the model issued a cookie SYN-ACK to that 4-tuple on
  the same listener within MAX_SYNCOOKIE_AGE periods (counted in whole
  syncookie periods of capture time, as check_tcp_syn_cookie counts minutes)
  and the ack check above passes.  The cookie table is direct-mapped and
  bounded (Replay(cookie_table=65536) entries of 40 bytes, keyed by a 64-bit
  seeded 4-tuple fingerprint); an overwritten entry makes its ACK invalid
  (divergence cookie_evictions); the real cookie secret is unknowable.
* A host SYN-ACK in the capture for which the model kept no state (it
  dropped the SYN, or never saw it) counts divergence host_synack_unmatched;
  a host RST on a 4-tuple where the model holds a request sock or child
  counts host_rst_vs_model_socket.  Per connection (ConnRec.divs, the
  summary's `divergences`): a host RST on a child, each window mismatch
  (also window_diverged), and the two divergences above when they happen
  before the record exists (no state / request sock): a direct-mapped
  table (PDV_SLOTS, keyed by the 4-tuple fingerprint) hands them to the
  connection the model makes of that 4-tuple within PDV_MAX_AGE_NS; a
  collision or no later connection leaves them global only.  The ISN
  assumptions (ack_isn_assumed, cookie_isn_assumed) and cookie evictions
  are not per-connection divergences.
* The SYN-ACK MSS option is the route advmss (MTU - 40 / - 60, MTU 1500 by
  default, Replay(mtu=...)): tcp_synack_options always sends it, cookie or
  not; the cookie itself encodes the msstab entry (kept in the cookie table).
* PAWS: the host's SYN-ACK TSval (snt_tsval_first / _last, random ts_off)
  is known only from captured host SYN-ACKs; without one the request sock's
  TSecr check is assumed to pass (divergence tsecr_assumed).  icsk_rto for
  tcp_tsval_replay is the handshake's first RTT sample m (model SYN-ACK to
  final ACK): m + max(2m, 200 ms), 1 s without a sample (cookie child, SYN-ACK
  retransmitted); later RTT samples are not modelled.  tcp_usec_ts is not
  modelled (millisecond TSval clocks).  Older profiles: no PAWS_ACK case
  (old pure ACKs count PAWSEstab with a dupack), no TSecr check, TIME_WAIT
  PAWS drops NOT_SPECIFIED when the profile lacks TCP_RFC7323_TW_PAWS.
* Packets between two local addresses: OUT if the source side is a socket the
  model knows (a connection or a listener), else IN.
* Drops inside tcp_conn_request (SYN/accept queue full, 3/4 rule) are freed
  by the kernel with consume_skb (no drop reason on the tracepoint); the
  model labels them TCP_LISTEN_OVERFLOW so the drop is visible; the counters
  (ListenOverflows / TCPReqQFullDrop / ListenDrops) say which rule.  A
  retransmitted SYN answered by a request sock is DROPPED NOT_SPECIFIED with
  reply SYNACK (tcp_check_req returns NULL: discard_and_relse).  Embryonic
  resets: TCP_RESET for a RST, TCP_FLAGS for an in-window SYN (choice).
* IPv4/IPv6 fragments are not reassembled: IpReasmReqds / Ip6ReasmReqds,
  verdict QUEUED, no L4 processing.
* Rows whose IP header could not be parsed (no addresses) count as IN.
  Destinations that are not local: FWD when ip_forward=1 (classification
  only, no counters) else OTHER (NOT_HOST, no counters; the kernel would
  count InReceives + InAddrErrors if such packets really reached it).
* Netfilter (Engine.attach_netfilter; Replay(rules=...)): the hook points
  of net/ipv4/ip_input.c ip_rcv / ip_local_deliver, ip_forward.c,
  ip6_output.c ip6_forward, ip_output.c, with iptables tables
  (pystack._core.iptables) and conntrack + NAT (pystack._core.conntrack) in
  the sheet-2.1 order.  Receive path: after ip_rcv_core's checks (fragments
  are still only queued) PRE_ROUTING, then the route of the DNAT-rewritten
  destination: local -> LOCAL_IN -> local delivery on the post-NAT tuple
  (written into the row's columns, the captured one restored at the end of
  the batch); not local -> with forwarding (IPv6 follows ip_forward): TTL,
  ForwDatagrams (IPv4 before FORWARD, IPv6 Ip6OutForwDatagrams after),
  FORWARD, POST_ROUTING, OutTransmits + OutOctets, verdict FORWARDED; without:
  InAddrErrors, IP_INADDRERRORS (OTHER / FWD rows then count InReceives).
  NF_DROP -> NETFILTER_DROP (no IP counter); REJECT -> the model's reply
  (tcp-reset without TCP MIBs; ICMP via icmp_send's rate limits and Icmp
  counters; ICMPv6 recorded only).  Host packets: LOCAL_OUT + POST_ROUTING
  (an OUTPUT drop of a captured packet: divergence host_out_nf_drop); host
  ICMP errors and REJECT resets carry the offending packet's conntrack
  (nf_ct_attach).  The node's own copies of forwarded NAT'd packets are
  recognised (inverse tuple with IPS_*_NAT -> SENT, FWD) and the kernel's
  random NAT choices are adopted from them (nat_port_adopted).  Assumed: no
  routing table (forwarded packets have no output interface: oif -1),
  MASQUERADE / REDIRECT take the host address sharing the longest prefix
  with the destination / source (inet_select_addr), pcapng interface i is
  host interface i (Replay(iface_map=) otherwise); a forwarded packet
  without NAT seen again on its way out is taken as a new arrival unless
  the link layer marks it outgoing.
* Python hooks (Engine.set_hooks; Replay.add_hook; pyx/pyhook.pyx): extra
  entries of the hook points at a priority among the built-in tables
  (nf_hook_entries_grow order: after entries of equal priority); a C filter
  (nogil) picks the packets whose row takes the GIL for one call; NF_DROP
  from a hook is an iptables DROP at that place.  An exception stops the
  batch after the raising packet's row (process() raises it).  Not run for
  the host's packets that carry another packet's conntrack (ICMP errors,
  REJECT resets) beyond the LOCAL_OUT raw position.

Not modelled yet
----------------
The SYN_SENT PAWS of active opens (PAWSActive; picked-up connections take
tstamp_ok from the host segment and ts_recent from its TSecr),
tcp_may_update_window's ordering, SACK scoreboard (RST matching the
right-most SACK block) and received D-SACKs, the compressed-SACK timer ACK, urgent
data, TCPAbortOnData (needs the host application's close() vs shutdown(),
invisible in a pcap), orphaned FIN_WAIT2 (tcp_fin_timeout / the FIN_WAIT2
minisock: FIN_WAIT2 stays a full socket until the peer's FIN, RST or the
capture ends), connections picked up mid-stream (no handshake in the
capture: their segments reach the listener), actively opened (host-side
connect) sockets, the host's own retransmissions / send buffer (only
snd_una / snd_nxt / the peer window are tracked), TCP_DEFER_ACCEPT, TCP
Fast Open, MD5/AO, IP options, routing and martians, conntrack helpers, ECN
negotiation (SYN-ACK ECE); UDP: udp_mem / UdpMemErrors (PROTO_MEM),
skb_condense, SO_RCVBUF changes after bind, connected / multicast /
encapsulation sockets, read-log rows filtered by client (TCP only), the
socket drop counter (sk_drops); ICMPv6 other than echo / port
unreachable (NDP, MLD, ping sockets, errors to upper layers: delivered
only), ICMPv6 errors other than port unreachable, Ip6OutNoRoutes of an
unroutable ICMPv6 reply, kernels before the icmpv6_xrlim_allow prefix fix
(tmo >> ((128 - plen) >> 5), 1000 ms default); ICMP protocol
unreachable for unknown protocols; IGMP (delivered only); transmit side:
GSO / TSO super-packets in a capture (counted as one segment, not
tcp_skb_pcount), the SACK block bookkeeping of tcp_sack_new_ofo_skb (blocks =
disjoint out-of-order ranges, at most 4; not reset by tcp_prune_ofo_queue),
IP options echoed in ICMP replies, a captured host RST without model state
(taken as the model's own reply kind), retransmitted SYNs of host active
opens (counted as OutSegs), sysctl tcp_dsack (taken as 1).

Memory: the 4-tuple table, the Sock pool, the skb pool and the connection
record pool grow geometrically between batches (each packet creates at most
one sock, one skb and one child); request socks are bounded by the
listeners' backlogs, full sockets and TIME_WAIT minisocks by the live
connections (closed ones are removed, TIME_WAIT ones after 60 s), skbs by
the receive buffers; connection records by the live connections plus one
batch's finished ones: a record leaves the engine when its connection is
finished (tcp_done, or the TIME_WAIT minisock expired / was killed) through
Engine.take_finished (the caller keeps it or not: Replay collect=) and its
slot is reused (free list; Engine.record_stats); the cookie, ICMP-peer,
timer and event tables are fixed-size or bounded by the pools.
Host addresses: a linear scan up to 4, else an open-addressing set.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int8_t, int16_t, int32_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memset

from pystack._core.capture cimport RecordBatch
from pystack._core.parse cimport (PacketColumns, PF_TRUNCATED, PF_IPV4, PF_IPV6, PF_FRAG,
                                  PF_L4, PF_FRAG_LATER, PF_TCP_MSS, PF_TCP_WSCALE, PF_TCP_SACKOK,
                                  PF_TCP_TS, PF_NOT_IP, PF_BAD_LINK, TH_FIN, TH_SYN,
                                  TH_RST, TH_ACK, TH_PSH, PKTTYPE_HOST, PKTTYPE_OTHERHOST,
                                  PKTTYPE_OUTGOING)
from pystack._core.demux cimport (Demux, Sock, demux_init, demux_reserve, demux_release,
                                  demux_find, demux_new, demux_insert, demux_remove,
                                  tuple_hash, mix64, load_addr, TS_NONE, TS_ESTABLISHED,
                                  TS_LISTEN, TS_NEW_SYN_RECV, TS_SYN_RECV, TS_CLOSE,
                                  SKF_WSCALE_OK,
                                  SKF_TSTAMP_OK, SKF_SACK_OK, SKF_ACKED, SKF_HOST_ISN,
                                  SKF_OOW_SET, SKF_IN_ACCEPTQ, SKF_ACCEPTED, demux_unhash,
                                  demux_free, TS_FIN_WAIT1, TS_FIN_WAIT2, TS_TIME_WAIT,
                                  TS_CLOSE_WAIT, TS_LAST_ACK, TS_CLOSING)
from pystack._core.vocab cimport *
from pystack._core.parse cimport PF_FRAG_LATER, PF_ICMP_INNER
from pystack._core.nftypes cimport (NfPkt, NfResult, NatRange, NF_INET_PRE_ROUTING,
                                    NF_INET_LOCAL_IN, NF_INET_FORWARD, NF_INET_LOCAL_OUT,
                                    NF_INET_POST_ROUTING, NFT_RAW, NFT_MANGLE, NFT_NAT,
                                    NFT_FILTER, NFT_SECURITY, NFV_DROP, NFV_ACCEPT,
                                    CTS_INVALID, CTS_ESTABLISHED, CTS_RELATED, CTS_NEW,
                                    CTS_UNTRACKED, IPS_SRC_NAT, IPS_DST_NAT, NF_NAT_MANIP_SRC,
                                    NAT_CHG_SPORT, NAT_CHG_SADDR, NAT_CHG_DADDR,
                                    NF_NAT_MANIP_DST, RTN_UNSPEC, RTN_UNICAST, RTN_LOCAL,
                                    RTN_BROADCAST, RTN_MULTICAST)
from pystack._core.iptables cimport (CompiledRules, NAT_NONE, NAT_MASQUERADE, NAT_REDIRECT,
                                     REJ_ICMP_NET_UNREACHABLE, REJ_ICMP_HOST_UNREACHABLE,
                                     REJ_ICMP_PROT_UNREACHABLE, REJ_ICMP_ECHOREPLY,
                                     REJ_ICMP_NET_PROHIBITED, REJ_ICMP_HOST_PROHIBITED,
                                     REJ_TCP_RESET, REJ_ICMP_ADMIN_PROHIBITED,
                                     REJ6_ICMP6_NO_ROUTE, REJ6_ICMP6_ADM_PROHIBITED,
                                     REJ6_ICMP6_NOT_NEIGHBOUR, REJ6_ICMP6_ADDR_UNREACH,
                                     REJ6_ICMP6_PORT_UNREACH, REJ6_ICMP6_ECHOREPLY,
                                     REJ6_TCP_RESET, REJ6_ICMP6_POLICY_FAIL,
                                     REJ6_ICMP6_REJECT_ROUTE, MK_CT_ADDR, MK_CT_PORT)
from pystack._core.conntrack cimport (Conntrack, CtTuple, ct_nat_needed, ct_nat_packet,
                                      ct_confirm, ct_discard, ct_hash, ct_prefetch_bucket,
                                      ct_prefetch_node, ct_prefetch_bysrc)
from pystack._core.pyhook cimport (PhEnt, ph_match, ph_compile, HookPacket, PH_MIN, PH_END,
                                   NF_IP_PRI_RAW, NF_IP_PRI_CONNTRACK, NF_IP_PRI_MANGLE,
                                   NF_IP_PRI_NAT_DST, NF_IP_PRI_FILTER, NF_IP_PRI_SECURITY,
                                   NF_IP_PRI_NAT_SRC)
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

cnp.import_array()

cdef struct PendDiv:
    # divergences seen on a 4-tuple before its connection record exists
    # (request sock / no state), handed to the record at _child_init
    uint64_t fp                 # 64-bit seeded 4-tuple hash (local side first)
    int64_t when
    int64_t n


cdef enum:
    PDV_SLOTS = 4096
    PDV_MAX_AGE_NS = 120000000000   # older pending divergences are not attributed


cdef struct Peer:
    # struct inet_peer: the per-destination ICMP token bucket; v6: the entry
    # belongs to net->ipv6.peers (inet_getpeer_v6), else net->ipv4.peers
    uint64_t a0, a1
    int64_t rate_tokens, rate_last
    uint8_t used, v6


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define PSE_PREFETCH_W(p) __builtin_prefetch((p), 1, 1)
    #else
    #define PSE_PREFETCH_W(p) ((void)(p))
    #endif
    """
    void PSE_PREFETCH_W(const void* p) noexcept nogil

cdef enum:
    AHEAD = 8       # rows ahead whose table slots are prefetched
    HRING = 16      # ring of their precomputed 4-tuple hashes


# --- netfilter wiring (attach_netfilter; the methods are in one block of Engine) ---

# Verdicts.ctstate: the xt_conntrack state of the packet, compressed
cdef enum:
    CTV_NONE = 0            # no conntrack view (netfilter not attached / not reached)
    CTV_NEW = 1
    CTV_ESTABLISHED = 2
    CTV_RELATED = 3
    CTV_INVALID = 4
    CTV_UNTRACKED = 5
    CTV_REPLY = 16          # bit: the packet is in the reply direction


cdef struct NfCols:
    # parsed columns the hooks need besides Batch, and writable views of the
    # tuple columns (NAT rewrites for local delivery, restored per batch)
    const uint32_t* iface
    const uint8_t* icmp_code
    const uint8_t* ip_ttl
    const uint8_t* tcp_nsack
    const uint32_t* tcp_sack
    const uint8_t* in_proto
    const uint8_t* in_saddr
    const uint8_t* in_daddr
    const uint16_t* in_sport
    const uint16_t* in_dport
    uint8_t* w_saddr
    uint8_t* w_daddr
    uint16_t* w_sport
    uint16_t* w_dport


cdef struct NfSave:
    # the captured tuple of a row rewritten by NAT
    int64_t row
    uint8_t saddr[16]
    uint8_t daddr[16]
    uint16_t sport, dport


cdef struct NfFwd:
    # a forwarded packet whose source port NAT chose: its post-NAT
    # fingerprint without that port, to recognise the kernel's copy on the
    # wire (which carries the kernel's random port)
    uint64_t fp
    int32_t ct
    uint32_t gen


cdef enum:
    NF_FWD_SLOTS = 4096


# _nf_done: the CTV_* of the CTS_* bits INVALID 1, ESTABLISHED 2, RELATED 4,
# NEW 8 and UNTRACKED (64, moved to 16); the first set of INVALID,
# UNTRACKED, NEW, RELATED, ESTABLISHED decides
cdef uint8_t _CTV_OF[32]


def _init_ctv_table():
    cdef int k
    for k in range(32):
        if k & CTS_INVALID:
            _CTV_OF[k] = CTV_INVALID
        elif k & (CTS_UNTRACKED >> 2):
            _CTV_OF[k] = CTV_UNTRACKED
        elif k & CTS_NEW:
            _CTV_OF[k] = CTV_NEW
        elif k & CTS_RELATED:
            _CTV_OF[k] = CTV_RELATED
        elif k & CTS_ESTABLISHED:
            _CTV_OF[k] = CTV_ESTABLISHED
        else:
            _CTV_OF[k] = CTV_NONE


_init_ctv_table()


cdef inline uint16_t _rtn_of(const uint8_t* a, bint v6, bint local) noexcept nogil:
    # Engine._nf_rtn given whether the address (column form) is the host's
    if local:
        return 1 << RTN_LOCAL
    if v6:
        if a[0] == 0xff:
            return 1 << RTN_MULTICAST
        return 1 << RTN_UNICAST
    if a[12] >= 224 and a[12] < 240:
        return 1 << RTN_MULTICAST
    if a[12] == 255 and a[13] == 255 and a[14] == 255 and a[15] == 255:
        return 1 << RTN_BROADCAST
    if (a[12] | a[13] | a[14] | a[15]) == 0:
        return 1 << RTN_UNSPEC
    return 1 << RTN_UNICAST


cdef inline void _nf_addr(const uint8_t* col, bint v6, uint8_t* out) noexcept nogil:
    # column form (IPv4 as ::ffff:a.b.c.d) -> NfPkt form (IPv4 in bytes 0..3)
    if v6:
        memcpy(out, col, 16)
    else:
        memset(out, 0, 16)
        memcpy(out, col + 12, 4)


cdef inline void _col_addr(const uint8_t* a, bint v6, uint8_t* out) noexcept nogil:
    # NfPkt form -> column form
    if v6:
        memcpy(out, a, 16)
    else:
        memset(out, 0, 10)
        out[10] = 0xff
        out[11] = 0xff
        memcpy(out + 12, a, 4)

# Divergence counters (model-only, not kernel counters)
DIVERGENCES = ("host_synack_unmatched", "ack_isn_assumed", "cookie_isn_assumed",
               "cookie_evictions", "events_dropped", "host_rst_vs_model_socket",
               "window_compared", "window_mismatch", "tsecr_assumed")
cdef enum:
    DV_HOST_SYNACK_UNMATCHED = 0
    DV_ACK_ASSUMED = 1
    DV_COOKIE_ASSUMED = 2
    DV_COOKIE_EVICT = 3
    DV_EV_DROPPED = 4
    DV_HOST_RST = 5
    DV_WIN_CMP = 6
    DV_WIN_DIFF = 7
    DV_TSECR_ASSUMED = 8

# Sock.xflags
cdef enum:
    XF_NOMEM = 1 << 0       # ICSK_ACK_NOMEM: next ACK advertises 0
    XF_ACK_SCHED = 1 << 1   # ICSK_ACK_SCHED: an ACK is owed
    XF_ACK_NOW = 1 << 2     # ICSK_ACK_NOW
    XF_RCV_SHUT = 1 << 3    # RCV_SHUTDOWN (peer FIN received)
    XF_HOST_FIN = 1 << 4    # the host's FIN was seen (host_fin_end valid)
    XF_HOST_SEEN = 1 << 5   # a host segment was seen (snd_nxt from the capture)
    XF_LOCKED = 1 << 6      # SOCK_RCVBUF_LOCK
    XF_PINGPONG = 1 << 7    # inet_csk_in_pingpong_mode
    XF_TS = 1 << 8          # timestamps in use; ts_recent valid
    XF_ZW = 1 << 9          # the model's last ACK advertised 0
    XF_PEER_ZW = 1 << 10    # the peer advertises 0
    XF_ATO = 1 << 11        # icsk_ack.ato initialised (first data seen)
    XF_DATA_ACKED = 1 << 12 # dupack counter context
    XF_DSACK = 1 << 13      # tp->rx_opt.dsack: the next ACK carries a D-SACK block

# Sock.at_flags (receive-buffer autotuning)
cdef enum:
    AT_RTT_TIME = 1 << 0    # rcv_rtt_est.time set (the kernel's "time != 0")
    AT_HOST_TS = 1 << 1     # host_tsval / ts_tick_lo / ts_tick_hi hold a captured host TSval
    AT_ADVMSS_TS = 1 << 2   # k.advmss already excludes the timestamp option

# rcvbuf_variant: tcp_rcv_space_adjust / tcp_rcvbuf_grow / tcp_rcv_rtt_update
cdef enum:
    RB_PRE_616 = 0          # 6.12: rcvwin = 2*copied + 16*advmss + grow
    RB_618 = 1              # 6.16 series + 6.18 "fix too slow tcp_rcvbuf_grow()"
    RB_7X = 2               # 7.x: grow term scaled down below tcp_rcvbuf_low_rtt

# coalesce_mode: how the capture host's driver built the received skbs, which
# decides whether and at what truesize cost skb_try_coalesce merges them
cdef enum:
    COALESCE_NONE = 0       # one skb per segment, never merged (the fixed model)
    COALESCE_FRAGS = 1      # payload in one page frag, small head: head freed
    COALESCE_HEAD = 2       # linear skb, page-frag head (build_skb): head stolen
    COALESCE_CLONE = 3      # veth: a clone of the sender's skb (frags), cloned
                            # until the sender frees its original

# close reasons (ConnRec.why, CLOSE_WHY)
cdef enum:
    CW_OPEN = 0
    CW_FIN = 1
    CW_RST = 2
    CW_TIMEOUT = 3          # reserved: no RTO / keepalive / fin_timeout timer yet
    CW_TW_OVERFLOW = 4

cdef enum:
    TCP_ATO_MIN_NS = 40000000       # include/net/tcp.h TCP_ATO_MIN (HZ/25)
    TCP_MAX_QUICKACKS = 16
    TCP_MIN_MSS = 88
    TCP_FASTRETRANS_THRESH = 3
    TCP_INIT_CWND = 10
    SOCK_MIN_RCVBUF_HALF = 1152     # SOCK_MIN_RCVBUF / 2 (tcp_set_window_clamp)

# drop reasons kept per connection (ConnRec.drop_by); slot 0 = other
CONN_DROP_REASONS = ("other", "TCP_OLD_SEQUENCE", "TCP_INVALID_SEQUENCE",
                     "TCP_INVALID_END_SEQUENCE", "TCP_OLD_DATA", "TCP_ZEROWINDOW",
                     "PROTO_MEM", "TCP_OFOMERGE", "TCP_RESET", "TCP_INVALID_SYN",
                     "TCP_OVERWINDOW", "TCP_FLAGS", "NOT_SPECIFIED", "TCP_CSUM",
                     "TCP_RFC7323_PAWS", "TCP_RFC7323_PAWS_ACK")

VERDICT_SPEC = (
    ("direction", np.uint8), ("verdict", np.uint8), ("reason", np.uint8),
    ("conn_id", np.int64), ("sock_state", np.uint8), ("listener", np.int16),
    ("reply", np.uint8), ("reply_seq", np.uint32), ("reply_ack", np.uint32),
    ("reply_win", np.uint16), ("reply_flags", np.uint16), ("reply_wscale", np.uint8),
    ("reply_mss", np.uint16), ("adv_win", np.uint32), ("win_diff", np.int32),
    ("rcv_queue", np.uint32),
    # netfilter (attach_netfilter): hooks traversed (bit 1 << NF_INET_*), the
    # deciding rule (global index, -1 none) and its hook / table (NFT_*
    # order: raw mangle nat filter security), the conntrack state (CTSTATES),
    # entry, NAT rewrite (NAT_CHG_* bits; post-NAT tuple, column form)
    ("nf_hooks", np.uint8), ("nf_rule", np.int32), ("nf_hook", np.int8),
    ("nf_table", np.int8), ("ctstate", np.uint8), ("ct_id", np.int32),
    ("nat_chg", np.uint8), ("nat_saddr", (np.uint8, 16)), ("nat_daddr", (np.uint8, 16)),
    ("nat_sport", np.uint16), ("nat_dport", np.uint16),
)

CTSTATES = {"": CTV_NONE, "NEW": CTV_NEW, "ESTABLISHED": CTV_ESTABLISHED,
            "RELATED": CTV_RELATED, "INVALID": CTV_INVALID, "UNTRACKED": CTV_UNTRACKED}
CTSTATE_REPLY = CTV_REPLY
NF_TABLES = ("raw", "mangle", "nat", "filter", "security")
NF_HOOKS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")

DIRECTIONS = {"OTHER": DIR_OTHER, "IN": DIR_IN, "OUT": DIR_OUT, "FWD": DIR_FWD}
VERDICTS = {"NOT_HOST": V_NOT_HOST, "DELIVERED": V_DELIVERED, "DROPPED": V_DROPPED,
            "SENT": V_SENT, "QUEUED": V_QUEUED, "UNMODELLED": V_UNMODELLED,
            "FORWARDED": V_FORWARDED}
REPLIES = {"NONE": R_NONE, "SYNACK": R_SYNACK, "SYNACK_COOKIE": R_SYNACK_COOKIE,
           "RST": R_RST, "ACK": R_ACK, "ICMP_PORT_UNREACH": R_ICMP_PORT_UNREACH,
           "ICMP_ECHO_REPLY": R_ICMP_ECHO_REPLY, "ICMP_UNREACH": R_ICMP_UNREACH,
           "ICMP6_UNREACH": R_ICMP6_UNREACH, "ICMP_TIME_EXCEEDED": R_ICMP_TIME_EXCEEDED}
EVENTS = {"SYNACK_RETRANS": EV_SYNACK_RETRANS, "REQ_EXPIRED": EV_REQ_EXPIRED,
          "ACCEPT": EV_ACCEPT, "DELACK": EV_DELACK, "WINDOW_UPDATE": EV_WINDOW_UPDATE,
          "READ": EV_READ, "TW_EXPIRED": EV_TW_EXPIRED}
READ_KINDS = {"as-arrives": RD_AS_ARRIVES, "rate": RD_RATE, "chunk": RD_CHUNK,
              "never": RD_NEVER, "log": RD_LOG}
CLOSE_WHY = {0: "OPEN", 1: "FIN", 2: "RST", 3: "TIMEOUT", 4: "TW_OVERFLOW"}
# include/net/tcp_states.h numbers -> ss(8) names (a request sock is shown
# by ss as SYN-RECV)
SOCK_STATES = {0: "", 1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1",
               5: "FIN-WAIT-2", 6: "TIME-WAIT", 7: "UNCONN", 8: "CLOSE-WAIT",
               9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING", 12: "SYN-RECV"}
APP_KINDS = {"immediate": APP_IMMEDIATE, "delay": APP_DELAY, "rate": APP_RATE,
             "never": APP_NEVER}
LISTENER_KINDS = {"v4": LK_V4_EXACT, "v4any": LK_V4_ANY, "v6": LK_V6_EXACT,
                  "v6any": LK_V6_ANY, "v6anyonly": LK_V6_ANY_ONLY}

cdef enum:
    TCPOLEN_TSTAMP_ALIGNED = 12
    TCP_MSS_DEFAULT = 536        # include/net/tcp.h (af_ops->mss_clamp)
    EV_CAP_DEFAULT = 1 << 18


cdef void* _ptr(dict arrays, str name):
    return cnp.PyArray_DATA(arrays[name])


cdef object _rec_dtype():
    """numpy dtype with the exact layout of ConnRec (take_finished /
    open_records copy records as raw bytes)."""
    cdef ConnRec r
    cdef size_t base = <size_t>&r
    f = [("conn_id", np.int64, <size_t>&r.conn_id), ("la0", np.uint64, <size_t>&r.la0),
         ("la1", np.uint64, <size_t>&r.la1), ("ra0", np.uint64, <size_t>&r.ra0),
         ("ra1", np.uint64, <size_t>&r.ra1), ("lport", np.uint16, <size_t>&r.lport),
         ("rport", np.uint16, <size_t>&r.rport), ("listener", np.int32, <size_t>&r.listener),
         ("family", np.uint8, <size_t>&r.family), ("state", np.uint8, <size_t>&r.state),
         ("why", np.uint8, <size_t>&r.why), ("picked_up", np.uint8, <size_t>&r.picked_up),
         ("start_ns", np.int64, <size_t>&r.start_ns), ("end_ns", np.int64, <size_t>&r.end_ns),
         ("bytes_in", np.int64, <size_t>&r.bytes_in), ("pkts_in", np.int64, <size_t>&r.pkts_in),
         ("bytes_out", np.int64, <size_t>&r.bytes_out),
         ("pkts_out", np.int64, <size_t>&r.pkts_out), ("drops", np.int64, <size_t>&r.drops),
         ("drop_by", (np.uint32, 16), <size_t>&r.drop_by[0]),
         ("zw_advs", np.int64, <size_t>&r.zw_advs), ("zw_ns", np.int64, <size_t>&r.zw_ns),
         ("peer_zw", np.int64, <size_t>&r.peer_zw),
         ("peer_zw_ns", np.int64, <size_t>&r.peer_zw_ns), ("max_rq", np.int64, <size_t>&r.max_rq),
         ("win_cmp", np.int64, <size_t>&r.win_cmp), ("win_diff", np.int64, <size_t>&r.win_diff),
         ("max_inflight", np.int64, <size_t>&r.max_inflight),
         ("peer_win", np.uint32, <size_t>&r.peer_win), ("rseq", np.int64, <size_t>&r.rseq),
         ("divs", np.int64, <size_t>&r.divs),
         ("states", np.uint32, <size_t>&r.states), ("req_ns", np.int64, <size_t>&r.req_ns),
         ("acq_ns", np.int64, <size_t>&r.acq_ns),
         ("accepted_ns", np.int64, <size_t>&r.accepted_ns)]
    return np.dtype({"names": [t[0] for t in f], "formats": [t[1] for t in f],
                     "offsets": [t[2] - base for t in f], "itemsize": sizeof(ConnRec)})


#: one connection record (Engine.take_finished / open_records rows)
REC_DTYPE = _rec_dtype()


cdef list _event_fields():
    # (column, column dtype, C field dtype, offset) of Event, in column order
    cdef Event e
    cdef size_t b = <size_t>&e
    return [("ts_ns", np.int64, np.int64, <size_t>&e.ts - b),
            ("conn_id", np.int64, np.int64, <size_t>&e.conn_id - b),
            ("listener", np.int16, np.int32, <size_t>&e.listener - b),
            ("kind", np.uint8, np.uint8, <size_t>&e.kind - b),
            ("seq", np.uint32, np.uint32, <size_t>&e.seq - b),
            ("ack", np.uint32, np.uint32, <size_t>&e.ack - b),
            ("win", np.uint16, np.uint16, <size_t>&e.win - b),
            ("flags", np.uint16, np.uint16, <size_t>&e.flags - b),
            ("wscale", np.uint8, np.uint8, <size_t>&e.wscale - b),
            ("mss", np.uint16, np.uint16, <size_t>&e.mss - b)]


cdef list _sample_fields():
    cdef Sample m
    cdef size_t b = <size_t>&m
    return [("ts_ns", np.int64, np.int64, <size_t>&m.ts - b),
            ("conn_id", np.int64, np.int64, <size_t>&m.conn_id - b),
            ("listener", np.int16, np.int32, <size_t>&m.listener - b),
            ("kind", np.uint8, np.uint8, <size_t>&m.kind - b),
            ("rcv_queue", np.int64, np.int64, <size_t>&m.rcv_queue - b),
            ("adv_win", np.uint32, np.uint32, <size_t>&m.adv_win - b),
            ("peer_win", np.uint32, np.uint32, <size_t>&m.peer_win - b),
            ("bytes_in_flight", np.int64, np.int64, <size_t>&m.inflight - b),
            ("syn_queue", np.int64, np.int64, <size_t>&m.syn_queue - b),
            ("accept_queue", np.int64, np.int64, <size_t>&m.accept_queue - b)]


cdef object _struct_dtype(list fields, size_t itemsize):
    return np.dtype({"names": [f[0] for f in fields], "formats": [f[2] for f in fields],
                     "offsets": [f[3] for f in fields], "itemsize": itemsize})


EVENT_FIELDS = _event_fields()
EVENT_DTYPE = _struct_dtype(EVENT_FIELDS, sizeof(Event))
SAMPLE_FIELDS = _sample_fields()
SAMPLE_DTYPE = _struct_dtype(SAMPLE_FIELDS, sizeof(Sample))


cdef dict _struct_columns(const void* buf, Py_ssize_t n, object dtype, list fields):
    """n C structs at buf (laid out as dtype) as one numpy column per field,
    in the fields' order and column dtypes (a copy: buf is reused)."""
    rec = np.frombuffer((<const char*>buf)[:n * dtype.itemsize], dtype) if n > 0 \
        else np.empty(0, dtype)
    return {f[0]: rec[f[0]].astype(f[1]) for f in fields}


def _addr_str(uint64_t w0, uint64_t w1, int family):
    import ipaddress
    a = (<bytes>(<char*>&w0)[:8]) + (<bytes>(<char*>&w1)[:8])
    if family == 4:
        return str(ipaddress.IPv4Address(a[12:]))
    return str(ipaddress.IPv6Address(a))


def connection_dicts(recs):
    """ReplayResult.connections: REC_DTYPE rows -> one dict per connection,
    in creation order (addresses as strings)."""
    out = []
    if recs is None or len(recs) == 0:
        return out
    recs = recs[np.argsort(recs["rseq"], kind="stable")]
    nr = len(CONN_DROP_REASONS)
    for r in recs.tolist():
        (conn_id, la0, la1, ra0, ra1, lport, rport, listener, family, state, why, picked_up,
         start_ns, end_ns, bytes_in, pkts_in, bytes_out, pkts_out, drops, drop_by, zw_advs,
         zw_ns, peer_zw, peer_zw_ns, max_rq, win_cmp, win_diff, max_inflight, peer_win, _rseq,
         divs, states, req_ns, acq_ns, accepted_ns) = r
        out.append({
            "conn_id": conn_id, "local": _addr_str(la0, la1, family), "lport": lport,
            "remote": _addr_str(ra0, ra1, family), "rport": rport, "listener": listener,
            "start_ns": start_ns, "end_ns": None if end_ns < 0 else end_ns,
            "state": SOCK_STATES[state] if state != TS_CLOSE else "CLOSE",
            "why": CLOSE_WHY[why],
            "bytes_in": bytes_in, "pkts_in": pkts_in,
            "bytes_out": bytes_out, "pkts_out": pkts_out,
            "drops": drops,
            "drops_by_reason": {CONN_DROP_REASONS[q]: int(drop_by[q]) for q in range(nr)
                                if drop_by[q]},
            "zero_window_advs": zw_advs, "zero_window_ns": zw_ns,
            "peer_zero_windows": peer_zw, "peer_zero_window_ns": peer_zw_ns,
            "max_rcv_queue": max_rq, "window_compared": win_cmp,
            "window_diverged": win_diff, "picked_up": bool(picked_up),
            "max_bytes_in_flight": max_inflight, "peer_window": peer_win,
            "divergences": divs,
        })
    return out


cdef class Verdicts:
    """Per-packet results, one row per PacketColumns row (structure of arrays)."""

    def __cinit__(self, Py_ssize_t capacity=65536):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.n = 0
        self.arrays = {name: np.zeros(capacity, dt) for name, dt in VERDICT_SPEC}
        a = self.arrays
        self.direction = <uint8_t*>_ptr(a, "direction")
        self.verdict = <uint8_t*>_ptr(a, "verdict")
        self.reason = <uint8_t*>_ptr(a, "reason")
        self.conn_id = <int64_t*>_ptr(a, "conn_id")
        self.sock_state = <uint8_t*>_ptr(a, "sock_state")
        self.listener = <int16_t*>_ptr(a, "listener")
        self.reply = <uint8_t*>_ptr(a, "reply")
        self.reply_seq = <uint32_t*>_ptr(a, "reply_seq")
        self.reply_ack = <uint32_t*>_ptr(a, "reply_ack")
        self.reply_win = <uint16_t*>_ptr(a, "reply_win")
        self.reply_flags = <uint16_t*>_ptr(a, "reply_flags")
        self.reply_wscale = <uint8_t*>_ptr(a, "reply_wscale")
        self.reply_mss = <uint16_t*>_ptr(a, "reply_mss")
        self.adv_win = <uint32_t*>_ptr(a, "adv_win")
        self.win_diff = <int32_t*>_ptr(a, "win_diff")
        self.rcv_queue = <uint32_t*>_ptr(a, "rcv_queue")
        self.nf_hooks = <uint8_t*>_ptr(a, "nf_hooks")
        self.nf_rule = <int32_t*>_ptr(a, "nf_rule")
        self.nf_hook = <int8_t*>_ptr(a, "nf_hook")
        self.nf_table = <int8_t*>_ptr(a, "nf_table")
        self.ctstate = <uint8_t*>_ptr(a, "ctstate")
        self.ct_id = <int32_t*>_ptr(a, "ct_id")
        self.nat_chg = <uint8_t*>_ptr(a, "nat_chg")
        self.nat_saddr = <uint8_t*>_ptr(a, "nat_saddr")
        self.nat_daddr = <uint8_t*>_ptr(a, "nat_daddr")
        self.nat_sport = <uint16_t*>_ptr(a, "nat_sport")
        self.nat_dport = <uint16_t*>_ptr(a, "nat_dport")
        for name in ("nf_rule", "nf_hook", "nf_table", "ct_id"):
            a[name].fill(-1)

    def columns(self):
        """The valid rows of every column, as a dict of numpy views."""
        return {k: v[:self.n] for k, v in self.arrays.items()}


cdef inline bint seq_before(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) < 0


cdef inline bint seq_after(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(b - a) < 0


cdef inline bint tcp_in_window(uint32_t seq, uint32_t end_seq, uint32_t s_win,
                               uint32_t e_win) noexcept nogil:
    # tcp_minisocks.c: tcp_in_window()
    if seq == s_win:
        return True
    if seq_after(end_seq, s_win) and seq_before(seq, e_win):
        return True
    return seq == e_win and seq == end_seq


# include/net/tcp.h: TCP_PAWS_24DAYS, TCP_PAWS_MSL, TCP_PAWS_WINDOW
cdef enum:
    TCP_PAWS_24DAYS = 60 * 60 * 24 * 24
    TCP_PAWS_MSL = 60
    TCP_PAWS_WINDOW = 1


cdef inline bint tcp_paws_check(uint32_t ts_recent, int64_t ts_recent_stamp, uint32_t tsval,
                                int32_t paws_win, int64_t now_s) noexcept nogil:
    # include/net/tcp.h: tcp_paws_check(); ktime_get_seconds() is the capture
    # time in whole seconds (time_before32 on a 64-bit difference)
    if <int32_t>(ts_recent - tsval) <= paws_win:
        return True
    if now_s - ts_recent_stamp >= <int64_t>TCP_PAWS_24DAYS:
        return True
    # some OSes send SYN / SYN-ACK with tsval 0: ts_recent 0 never rejects
    if ts_recent == 0:
        return True
    return False


cdef inline bint tcp_paws_reject(uint32_t ts_recent, int64_t ts_recent_stamp, uint32_t tsval,
                                 bint rst, int64_t now_s) noexcept nogil:
    # include/net/tcp.h: tcp_paws_reject(): a RST is exempt once ts_recent is
    # older than TCP_PAWS_MSL
    if tcp_paws_check(ts_recent, ts_recent_stamp, tsval, 0, now_s):
        return False
    if rst and now_s - ts_recent_stamp >= <int64_t>TCP_PAWS_MSL:
        return False
    return True


cdef extern from *:
    """
    #define PH_UNLIKELY(x) __builtin_expect(!!(x), 0)
    """
    # Python hooks are the exception: their checks stay out of the hot
    # paths' code layout and inlining budget
    bint PH_UNLIKELY(bint x) noexcept nogil


cdef inline int64_t _ph_tpri(int table) noexcept nogil:
    # the priority of an iptables table's hook entry (nat is not in _nf_chain)
    if table == NFT_RAW:
        return NF_IP_PRI_RAW
    if table == NFT_MANGLE:
        return NF_IP_PRI_MANGLE
    if table == NFT_FILTER:
        return NF_IP_PRI_FILTER
    return NF_IP_PRI_SECURITY


cdef class Engine:
    """The host model.  Built by pystack.replay.Replay (see there for the API)."""

    cdef int64_t ctr[C__COUNT]
    cdef int64_t div[9]
    cdef Demux dm
    cdef LSock* ls
    cdef int32_t nls
    cdef int32_t* port_head     # 65536 entries: first listener on the port, -1 none
    cdef int32_t* uport_head    # the same for bound UDP sockets (entries of ls too)
    cdef int32_t ntcp           # ls[0:ntcp] TCP listeners, ls[ntcp:nls] UDP sockets
    # ICMP output rate limits (icmp.c icmp_global_allow, inetpeer.c
    # inet_peer_xrlim_allow); times in jiffies (HZ = 1000 assumed)
    cdef int icmp_echo_ignore_all, icmp_ratemask
    cdef int64_t icmp_ratelimit_j, icmp_msgs_per_sec, icmp_msgs_burst
    cdef int64_t icmp_credit, icmp_stamp_j
    # ICMPv6 (net/ipv6/icmp.c): icmpv6_time in jiffies, the 256-bit ratemask;
    # the global bucket (icmp_credit) is the one IPv4 uses
    cdef int icmp6_echo_ignore_all
    cdef int64_t icmp6_ratelimit_j
    cdef uint64_t icmp6_ratemask[4]
    cdef Peer* peers
    cdef uint64_t peer_mask
    cdef PendDiv* pdv
    cdef int32_t* group
    cdef uint64_t* haddr        # host addresses, 2 words each
    cdef int32_t nhaddr
    cdef int32_t* hslot         # open-addressing set of haddr indices (-1 empty)
    cdef uint64_t hmask
    cdef TimerEnt* heap
    cdef int64_t heap_n, heap_cap
    cdef uint64_t heap_order
    cdef Event* ev
    cdef int64_t ev_n, ev_cap
    cdef Cookie* ck
    cdef uint64_t ck_mask
    cdef uint64_t rng
    cdef int64_t next_conn
    cdef int64_t now
    cdef bint started
    # sysctls / profile values
    cdef int syncookies, abort_on_overflow, max_syn_backlog, ip_forward
    cdef int tcp_timestamps, tcp_window_scaling, tcp_sack
    cdef int aq_full_ge, synq_full_ge
    cdef int64_t timeout_init_ns, rto_max_ns, invalid_ratelimit_ns
    cdef int64_t cookie_period_ns, synq_valid_ns
    cdef int max_cookie_age
    cdef uint16_t msstab4[4]
    cdef uint16_t msstab6[4]
    # current batch
    cdef Batch b
    cdef VOut vo
    cdef int64_t hrow[16]           # row whose 4-tuple hash is in hval (prefetch ring)
    cdef uint64_t hval[16]
    cdef uint64_t ct_hval[16]       # row j's conntrack tuple hash (j & 15), for ct_prefetch_node
    cdef uint64_t ct_rval[16]       # its reply tuple's, for a connection's first packet (else 0)
    cdef const uint8_t* csum_err
    # full sockets (sheet 5, 8.3)
    cdef SkbEnt* skb
    cdef int64_t skb_cap, skb_hw, skb_nfree
    cdef int32_t skb_free
    cdef ConnRec* rec
    cdef int64_t rec_cap, rec_hw, rec_nfree, rec_live, rec_live_max, rec_seq
    cdef int64_t rec_ndone, rec_emitted
    cdef int32_t rec_free, rec_done_head, rec_done_tail
    cdef int64_t tw_count, max_tw_buckets, tw_len_ns
    cdef int tcp_app_win, rfc1337, fin_exception, seq_variant, ingest_variant, tcp_sack_on
    cdef int paws_tw_ctr, paws_old_ack, paws_tsecr, paws_tw_reason
    cdef int64_t rmem2, tsz_mul, tsz_add
    cdef int co_mode               # COALESCE_*: how the driver built the skbs
    cdef int64_t co_keep, co_max_frags, co_lag_ns, co_gso_gap_ns
    cdef int64_t scaling_ratio
    cdef int moderate_rcvbuf, rcvbuf_variant, ratio_update, clamp_setter
    cdef int64_t rcvbuf_low_rtt_us
    cdef uint32_t tw_isn
    cdef int pickup
    cdef uint8_t dr_slot[256]
    # output tables (pystack.results; enable_output): samples and counter
    # snapshots in preallocated buffers, drained once per batch
    cdef bint smp_on
    cdef Sample* smp
    cdef int64_t smp_n, smp_cap, smp_lost
    cdef SampleLast* slast          # per sock index: the last emitted values
    cdef int64_t slast_cap
    cdef int64_t* lq_last           # per listener: last (syn_queue, accept_queue)
    cdef bint ctr_on
    cdef int64_t ctr_iv, ctr_next
    cdef int64_t* csnap             # C__COUNT values per snapshot
    cdef int64_t* csnap_ts
    cdef int64_t csnap_n, csnap_cap
    # netfilter (attach_netfilter)
    cdef bint nf_on, nf_has4, nf_has6, nf_nat4, nf_nat6
    cdef int ip6_forward
    cdef CompiledRules nf_r4
    cdef CompiledRules nf_r6
    cdef Conntrack nf_ct
    cdef int16_t* nf_ifmap          # pcapng interface index -> host-config interface
    cdef int32_t nf_nifmap
    cdef uint8_t* nf_addrs          # 17 bytes each: NfPkt-form address + family
    cdef int32_t nf_naddr
    cdef NfPkt nfp                  # the packet at the hooks
    cdef NfResult nfres
    cdef uint8_t nf_chg             # NAT_CHG_* over the hooks of this packet
    cdef NfCols nfc
    cdef NfSave* nf_save
    cdef int64_t nf_nsave, nf_save_cap
    cdef int64_t nf_div_out_drop
    cdef uint64_t nf_rej[256]       # fingerprints of the model's REJECT tcp-resets
    cdef NfFwd* nf_fwd              # NF_FWD_SLOTS, direct-mapped
    cdef int64_t nf_div_port        # NAT source ports adopted from the capture
    cdef bint nf_any_nat            # a NAT binding (not null) was ever set up
    cdef uint32_t nf_tmask[2]       # per family (4, 6): bit table * 5 + hook of the chains present
    cdef uint32_t nf_hk[2]          # per family: bit per hook with a raw / mangle / filter /
                                    # security chain or a Python hook (else the hook's
                                    # gaps and tables are skipped with one test; _nf_hk_set)
    cdef Py_ssize_t nf_last         # the last row of this batch whose result columns are written
    cdef int nf_slocal              # the row's captured source is the host's (-1: unknown)
    cdef int nf_dlocal              # the row's captured destination is the host's (-1: unknown)
    # Python hooks (set_hooks): entries sorted by (hook, priority, order)
    cdef bint ph_on
    cdef uint32_t ph_hmask          # bit per hook with entries (0: no hooks, ph_on False)
    cdef int64_t ph_pmin[5]         # per hook: lowest / highest priority of its entries
    cdef int64_t ph_pmax[5]         # (none: pmin > any gap's hi, so every gap is skipped)
    cdef PhEnt* ph
    cdef int32_t ph_n
    cdef int32_t ph_first[6]        # entries of hook h: ph[ph_first[h]:ph_first[h + 1]]
    cdef list ph_fns
    cdef object ph_exc              # the exception a hook raised in this batch
    cdef bint ph_stop
    cdef const int64_t* ph_frame

    def __cinit__(self):
        self.ls = NULL
        self.port_head = NULL
        self.group = NULL
        self.haddr = NULL
        self.hslot = NULL
        self.heap = NULL
        self.ev = NULL
        self.ck = NULL
        self.peers = NULL
        self.pdv = NULL
        self.uport_head = NULL
        self.dm.slots = NULL
        self.skb = NULL
        self.rec = NULL
        self.smp = NULL
        self.slast = NULL
        self.lq_last = NULL
        self.csnap = NULL
        self.csnap_ts = NULL
        self.nf_on = False
        self.nf_ifmap = NULL
        self.nf_addrs = NULL
        self.nf_save = NULL
        self.nf_fwd = NULL
        self.ph_on = False
        self.ph_hmask = 0
        self.ph = NULL
        self.ph_n = 0

    def __init__(self, addresses, listeners, dict params, uint64_t seed=0):
        """addresses: 16-byte host addresses (IPv4 as ::ffff:a.b.c.d).
        listeners: dicts from pystack.replay (lookup order already applied).
        params: sysctl / profile values (pystack.replay._engine_params)."""
        cdef int32_t i, j, n
        cdef LSock* L
        cdef uint64_t w0, w1
        memset(self.ctr, 0, sizeof(self.ctr))
        memset(self.div, 0, sizeof(self.div))
        self.rng = mix64(seed ^ <uint64_t>0x5eed5eed5eed5eedULL)
        demux_init(&self.dm, 1024, 256, mix64(seed + 1))
        self.next_conn = 0
        self.now = 0
        self.started = False
        # host addresses
        self.nhaddr = len(addresses)
        self.haddr = <uint64_t*>malloc((2 * self.nhaddr + 2) * sizeof(uint64_t))
        for i, a in enumerate(addresses):
            a = bytes(a)
            if len(a) != 16:
                raise ValueError("addresses must be 16 bytes")
            load_addr(<const uint8_t*>a, &w0, &w1)
            self.haddr[2 * i] = w0
            self.haddr[2 * i + 1] = w1
        # address set (many host addresses: no linear scan per packet)
        nslot = 16
        while nslot < 4 * self.nhaddr:
            nslot <<= 1
        self.hslot = <int32_t*>malloc(nslot * sizeof(int32_t))
        if self.haddr == NULL or self.hslot == NULL:
            raise MemoryError()
        self.hmask = nslot - 1
        for j in range(nslot):
            self.hslot[j] = -1
        for i in range(self.nhaddr):
            pos = mix64(self.haddr[2 * i] ^ (self.haddr[2 * i + 1] * <uint64_t>0x9e3779b97f4a7c15ULL)) & self.hmask
            while self.hslot[pos] >= 0:
                pos = (pos + 1) & self.hmask
            self.hslot[pos] = i
        # params
        self.syncookies = params["tcp_syncookies"]
        self.abort_on_overflow = params["tcp_abort_on_overflow"]
        self.max_syn_backlog = params["tcp_max_syn_backlog"]
        self.ip_forward = params["ip_forward"]
        self.tcp_timestamps = params["tcp_timestamps"]
        self.tcp_window_scaling = params["tcp_window_scaling"]
        self.tcp_sack = params["tcp_sack"]
        self.aq_full_ge = params["accept_queue_full_ge"]
        self.synq_full_ge = params["syn_queue_full_ge"]
        self.timeout_init_ns = params["timeout_init_ns"]
        self.rto_max_ns = params["rto_max_ns"]
        self.invalid_ratelimit_ns = params["invalid_ratelimit_ns"]
        self.cookie_period_ns = params["syncookie_period_ns"]
        self.synq_valid_ns = params["synq_overflow_valid_ns"]
        self.max_cookie_age = params["max_syncookie_age"]
        for j in range(4):
            self.msstab4[j] = params["msstab4"][j]
            self.msstab6[j] = params["msstab6"][j]
        # listeners
        self.nls = len(listeners)
        self.ls = <LSock*>calloc(max(1, self.nls), sizeof(LSock))
        self.port_head = <int32_t*>malloc(65536 * sizeof(int32_t))
        ngroup = sum(len(l["group"]) for l in listeners)
        self.group = <int32_t*>malloc(max(1, ngroup) * sizeof(int32_t))
        if self.ls == NULL or self.port_head == NULL or self.group == NULL:
            raise MemoryError()
        self.uport_head = <int32_t*>malloc(65536 * sizeof(int32_t))
        if self.uport_head == NULL:
            raise MemoryError()
        for j in range(65536):
            self.port_head[j] = -1
            self.uport_head[j] = -1
        self.ntcp = sum(1 for l in listeners if l.get("proto", "tcp") == "tcp")
        if any(l.get("proto", "tcp") == "tcp" for l in listeners[self.ntcp:]):
            raise ValueError("TCP listeners must come before UDP sockets")
        goff = 0
        last_on_port = {}
        for i, l in enumerate(listeners):
            L = &self.ls[i]
            heads = self.port_head if i < self.ntcp else self.uport_head
            pkey = (i < self.ntcp, l["port"])
            a = bytes(l["addr16"])
            load_addr(<const uint8_t*>a, &w0, &w1)
            L.a0 = w0
            L.a1 = w1
            L.kind = l["kind"]
            L.port = l["port"]
            L.next_on_port = -1
            if pkey in last_on_port:
                self.ls[last_on_port[pkey]].next_on_port = i
            else:
                heads[L.port] = i
            last_on_port[pkey] = i
            L.group_off = goff
            L.group_n = len(l["group"])
            for m in l["group"]:
                self.group[goff] = m
                goff += 1
            L.max_ack_backlog = l.get("max_ack_backlog", 0)
            L.win_ts = l.get("win_ts", 0)
            L.win_nots = l.get("win_nots", 0)
            L.wscale = l.get("wscale", 0)
            L.advmss = l.get("advmss", 0)
            L.synack_retries = l.get("synack_retries", 0)
            L.aq_cap = min(L.max_ack_backlog + 2, 1 << 24) if L.max_ack_backlog >= 0 else 2
            L.aq = <int32_t*>malloc(L.aq_cap * sizeof(int32_t))
            if L.aq == NULL:
                raise MemoryError()
            L.app = l.get("app", APP_NEVER)
            L.delay_ns = l.get("delay_ns", 0)
            L.rate_count = l.get("rate_count", 1)
            L.rate_per_ns = l.get("rate_per_ns", 1)
            L.burst = l.get("burst", 1)
            L.tok = L.burst * L.rate_per_ns
            L.heap_pos = -1
        # timers, events, cookies
        self.heap_cap = 1024
        self.heap = <TimerEnt*>malloc(self.heap_cap * sizeof(TimerEnt))
        self.heap_n = 0
        self.heap_order = 0
        self.ev_cap = params.get("event_capacity", EV_CAP_DEFAULT)
        self.ev = <Event*>malloc(self.ev_cap * sizeof(Event))
        self.ev_n = 0
        nck = 1
        while nck < params.get("cookie_table", 1 << 16):
            nck <<= 1
        self.ck = <Cookie*>calloc(nck, sizeof(Cookie))
        self.ck_mask = nck - 1
        if self.heap == NULL or self.ev == NULL or self.ck == NULL:
            raise MemoryError()
        # ICMP
        self.icmp_echo_ignore_all = params.get("icmp_echo_ignore_all", 0)
        self.icmp_ratemask = params.get("icmp_ratemask", 6168)
        self.icmp_ratelimit_j = params.get("icmp_ratelimit", 1000)
        self.icmp_msgs_per_sec = params.get("icmp_msgs_per_sec", 1000)
        self.icmp_msgs_burst = params.get("icmp_msgs_burst", 50)
        self.icmp_credit = 0
        self.icmp6_echo_ignore_all = params.get("icmp6_echo_ignore_all", 0)
        self.icmp6_ratelimit_j = params.get("icmp6_ratelimit", 100)
        m6 = params.get("icmp6_ratemask", (0xFFFFFFFFFFFFFFFB, 0xFFFFFFFFFFFFFFFF, 0, 0))
        for k in range(4):
            self.icmp6_ratemask[k] = <uint64_t>m6[k]
        self.icmp_stamp_j = -(1 << 40)          # long ago: the first refill is full
        npeer = 1
        while npeer < params.get("peer_table", 1 << 12):
            npeer <<= 1
        self.peers = <Peer*>calloc(npeer, sizeof(Peer))
        if self.peers == NULL:
            raise MemoryError()
        self.peer_mask = npeer - 1
        # full sockets
        self.tcp_app_win = params.get("tcp_app_win", 31)
        self.rfc1337 = params.get("tcp_rfc1337", 0)
        self.fin_exception = params.get("tcp_sequence_fin_exception", 1)
        # PAWS, per profile (sheet 10.4, 10.7): the TIME_WAIT reject counter,
        # the 6.15+ PAWS_ACK / PAWSOldAck case, the 6.15+ TSecr check and reasons
        self.paws_tw_ctr = <int>C_TcpExtPAWSEstab if params.get("paws_timewait_estab", 0) \
            else <int>C_TcpExtPAWSTimewait
        self.paws_old_ack = params.get("paws_old_ack", 1)
        self.paws_tsecr = params.get("paws_tsecr", 1)
        self.paws_tw_reason = params.get("paws_tw_reason", 1)
        self.seq_variant = params.get("tcp_sequence_variant", 1)
        self.ingest_variant = params.get("tcp_can_ingest_variant", 0)
        self.rmem2 = params.get("tcp_rmem2", 33554432)
        self.tsz_mul = params.get("truesize_mul", 256)
        self.tsz_add = params.get("truesize_add", 576)
        self.co_mode = params.get("coalesce_mode", COALESCE_NONE)
        self.co_keep = params.get("coalesce_keep", 0)
        self.co_max_frags = params.get("max_skb_frags", 17)
        self.co_lag_ns = params.get("coalesce_clone_lag_ns", 100000)
        self.co_gso_gap_ns = params.get("coalesce_gso_gap_ns", 10000)
        self.scaling_ratio = params.get("scaling_ratio", 128)
        self.moderate_rcvbuf = params.get("tcp_moderate_rcvbuf", 1)
        self.rcvbuf_variant = params.get("rcvbuf_variant", RB_618)
        self.rcvbuf_low_rtt_us = params.get("tcp_rcvbuf_low_rtt_us", 1000)
        self.ratio_update = params.get("scaling_ratio_update", 1)
        self.clamp_setter = params.get("ratio_clamp_setter", 1)
        self.max_tw_buckets = params.get("tcp_max_tw_buckets", 131072)
        self.tw_len_ns = params.get("tw_len_ns", 60 * 1000000000)
        self.tcp_sack_on = self.tcp_sack
        self.tw_count = 0
        self.tw_isn = 0
        self.pickup = params.get("pickup", 1)
        memset(self.dr_slot, 0, sizeof(self.dr_slot))
        from pystack.vocab import reason_code
        for j, name in enumerate(CONN_DROP_REASONS):
            if j:
                self.dr_slot[reason_code(name)] = j
        self.skb_cap = 1024
        self.skb = <SkbEnt*>malloc(self.skb_cap * sizeof(SkbEnt))
        self.skb_hw = 0
        self.skb_nfree = 0
        self.skb_free = -1
        self.pdv = <PendDiv*>calloc(PDV_SLOTS, sizeof(PendDiv))
        if self.pdv == NULL:
            raise MemoryError()
        self.rec_cap = 256
        self.rec = <ConnRec*>malloc(self.rec_cap * sizeof(ConnRec))
        self.rec_hw = 0
        self.rec_nfree = 0
        self.rec_free = -1
        self.rec_live = 0
        self.rec_live_max = 0
        self.rec_seq = 0
        self.rec_ndone = 0
        self.rec_emitted = 0
        self.rec_done_head = -1
        self.rec_done_tail = -1
        if self.skb == NULL or self.rec == NULL:
            raise MemoryError()
        for i, l in enumerate(listeners):
            L = &self.ls[i]
            L.rcvbuf = l.get("rcvbuf", 131072)
            L.rcvbuf_locked = l.get("rcvbuf_locked", 0)
            L.rd_kind = l.get("read", RD_AS_ARRIVES)
            L.uq_head = -1
            L.uq_tail = -1
            L.rd_bytes = l.get("rd_bytes", 1)
            L.rd_per_ns = l.get("rd_per_ns", 1)
            rows = l.get("log", ())
            n = len(rows)
            L.log_n = n
            L.log_t = <int64_t*>malloc(max(1, n) * sizeof(int64_t))
            L.log_bytes = <int64_t*>malloc(max(1, n) * sizeof(int64_t))
            L.log_port = <int32_t*>malloc(max(1, n) * sizeof(int32_t))
            L.log_addr = <uint64_t*>malloc(max(1, 2 * n) * sizeof(uint64_t))
            L.log_rel = <uint8_t*>malloc(max(1, n))
            if L.log_t == NULL or L.log_bytes == NULL or L.log_port == NULL \
                    or L.log_addr == NULL or L.log_rel == NULL:
                raise MemoryError()
            for j, (t, rel, nb, port, a16) in enumerate(rows):
                L.log_t[j] = t
                L.log_bytes[j] = nb
                L.log_port[j] = -1 if port is None else port
                L.log_rel[j] = (1 if rel else 0) | (2 if a16 is not None else 0)
                if a16 is not None:
                    a = bytes(a16)
                    load_addr(<const uint8_t*>a, &w0, &w1)
                    L.log_addr[2 * j] = w0
                    L.log_addr[2 * j + 1] = w1

    def __dealloc__(self):
        cdef int32_t i
        if self.ls != NULL:
            for i in range(self.nls):
                free(self.ls[i].aq)
                free(self.ls[i].log_t)
                free(self.ls[i].log_bytes)
                free(self.ls[i].log_port)
                free(self.ls[i].log_addr)
                free(self.ls[i].log_rel)
        free(self.ls)
        free(self.port_head)
        free(self.group)
        free(self.haddr)
        free(self.hslot)
        free(self.heap)
        free(self.ev)
        free(self.ck)
        free(self.peers)
        free(self.pdv)
        free(self.uport_head)
        free(self.skb)
        free(self.rec)
        free(self.smp)
        free(self.slast)
        free(self.lq_last)
        free(self.csnap)
        free(self.csnap_ts)
        free(self.nf_ifmap)
        free(self.nf_addrs)
        free(self.nf_save)
        free(self.nf_fwd)
        free(self.ph)
        if self.dm.slots != NULL:
            demux_release(&self.dm)

    # ------------------------------------------------------------------
    # batch driver
    # ------------------------------------------------------------------
    def process(self, RecordBatch rb not None, PacketColumns cols not None,
                Verdicts v not None, csum_err):
        """Run rows [0, cols.n) through the model.  csum_err: uint8 array
        (1 = the L4 checksum counts as bad, ChecksumPolicy.error_mask)."""
        cdef Py_ssize_t n = cols.n, i
        cdef Py_ssize_t ph_done = n
        cdef cnp.ndarray mask = np.ascontiguousarray(csum_err, dtype=np.uint8)
        if v.capacity < n:
            raise ValueError("Verdicts capacity too small")
        if mask.shape[0] < n:
            raise ValueError("checksum mask shorter than the batch")
        self._reserve(n)
        self._bind(rb, cols, v)
        if self.nf_on:
            self._nf_begin(rb, cols, v, n)
        self.csum_err = <const uint8_t*>cnp.PyArray_DATA(mask)
        self.ev_n = 0
        cdef const int64_t* ts = rb.ts
        for i in range(HRING):
            self.hrow[i] = -1
        if self.ph_on:
            self.ph_stop = False
            self.ph_frame = rb.frame
        with nogil:
            if self.nf_on:
                # the batch's first rows: their ring slots still hold the
                # last batch's hashes
                for i in range(AHEAD if AHEAD < n else n):
                    self._nf_prefetch(i)
            for i in range(n):
                if i + AHEAD < n:
                    self._prefetch(i + AHEAD)
                    if self.nf_on:
                        self._nf_prefetch(i + AHEAD)
                if self.nf_on and i + AHEAD // 2 < n:
                    ct_prefetch_node(self.nf_ct, self.ct_hval[(i + AHEAD // 2) & (HRING - 1)])
                    if self.ct_rval[(i + AHEAD // 2) & (HRING - 1)]:
                        ct_prefetch_node(self.nf_ct, self.ct_rval[(i + AHEAD // 2) & (HRING - 1)])
                if self.ctr_on and ts[i] >= self.ctr_next:
                    self._ctr_tick(ts[i])
                self._run_timers(ts[i])
                if ts[i] > self.now or not self.started:
                    self.now = ts[i]
                    self.started = True
                self._row(i)
                if self.nf_on and self.nf_last != i:
                    self._nf_defaults(i)
                if self.smp_on and self.vo.listener[i] >= 0:
                    self._smp_lis(self.vo.listener[i], self.now)
                if self.ph_stop:
                    ph_done = i + 1
                    break
            if self.nf_on:
                self._nf_restore()
                # rows a raising Python hook left unprocessed
                for i in range(ph_done, n):
                    self._nf_defaults(i)
        if self.ph_exc is not None:
            self._ph_raise(v, ph_done)
        v.n = n
        self.csum_err = NULL
        return self._take_events()

    cdef void _bind(self, RecordBatch rb, PacketColumns c, Verdicts v):
        cdef Batch* b = &self.b
        cdef VOut* o = &self.vo
        b.base = rb.base
        b.offset = rb.offset
        b.caplen = rb.caplen
        b.wirelen = rb.wirelen
        b.ts = rb.ts
        b.status = c.status
        b.flags = c.flags
        b.pkt_type = c.pkt_type
        b.l3_off = c.l3_off
        b.ip_proto = c.ip_proto
        b.ip_tos = c.ip_tos
        b.ip_len = c.ip_len
        b.saddr = c.saddr
        b.daddr = c.daddr
        b.payload_len = c.payload_len
        b.sport = c.sport
        b.dport = c.dport
        b.tcp_seq = c.tcp_seq
        b.tcp_ack = c.tcp_ack
        b.tcp_flags = c.tcp_flags
        b.tcp_mss = c.tcp_mss
        b.tcp_wscale = c.tcp_wscale
        b.icmp_type = c.icmp_type
        b.icmp_code = c.icmp_code
        b.l4_len = c.l4_len
        b.tcp_win = c.tcp_win
        b.tcp_tsval = c.tcp_tsval
        b.tcp_tsecr = c.tcp_tsecr
        o.direction = v.direction
        o.verdict = v.verdict
        o.reason = v.reason
        o.conn_id = v.conn_id
        o.sock_state = v.sock_state
        o.listener = v.listener
        o.reply = v.reply
        o.reply_seq = v.reply_seq
        o.reply_ack = v.reply_ack
        o.reply_win = v.reply_win
        o.reply_flags = v.reply_flags
        o.reply_wscale = v.reply_wscale
        o.reply_mss = v.reply_mss
        o.adv_win = v.adv_win
        o.win_diff = v.win_diff
        o.rcv_queue = v.rcv_queue
        o.nf_hooks = v.nf_hooks
        o.nf_rule = v.nf_rule
        o.nf_hook = v.nf_hook
        o.nf_table = v.nf_table
        o.ctstate = v.ctstate
        o.ct_id = v.ct_id
        o.nat_chg = v.nat_chg
        o.nat_saddr = v.nat_saddr
        o.nat_daddr = v.nat_daddr
        o.nat_sport = v.nat_sport
        o.nat_dport = v.nat_dport

    def finish(self, int64_t until_ns):
        """Fire the timers due up to `until_ns` (the capture's last timestamp)."""
        self.ev_n = 0
        with nogil:
            self._run_timers(until_ns)
        return self._take_events()

    cdef object _take_events(self):
        out = _struct_columns(self.ev, self.ev_n, EVENT_DTYPE, EVENT_FIELDS)
        self.ev_n = 0
        return out

    cdef int _reserve(self, Py_ssize_t n) except -1:
        cdef int64_t cap
        cdef TimerEnt* h
        cdef SkbEnt* sk
        cdef ConnRec* rc
        demux_reserve(&self.dm, n)
        # each packet queues at most one skb and creates at most one child
        if self.skb_cap - self.skb_hw + self.skb_nfree < n:
            cap = self.skb_cap + max(self.skb_cap // 2, n)
            sk = <SkbEnt*>realloc(self.skb, cap * sizeof(SkbEnt))
            if sk == NULL:
                raise MemoryError()
            self.skb = sk
            self.skb_cap = cap
        # records: free slots (never used or returned by take_finished);
        # finished records wait in the done list until take_finished
        if self.rec_cap - self.rec_hw + self.rec_nfree < n:
            cap = self.rec_cap + max(self.rec_cap // 2, n)
            rc = <ConnRec*>realloc(self.rec, cap * sizeof(ConnRec))
            if rc == NULL:
                raise MemoryError()
            self.rec = rc
            self.rec_cap = cap
        # at most two timers per sock plus one per listener
        if 2 * self.dm.sock_cap + self.nls + 16 > self.heap_cap:
            cap = 2 * self.dm.sock_cap + self.nls + 16
            h = <TimerEnt*>realloc(self.heap, cap * sizeof(TimerEnt))
            if h == NULL:
                raise MemoryError()
            self.heap = h
            self.heap_cap = cap
        if self.smp_on or self.ctr_on:
            self._reserve_output(n)
        return 0

    # ------------------------------------------------------------------
    # results
    # ------------------------------------------------------------------
    def counters(self):
        from pystack.vocab import COUNTERS
        return {name: int(self.ctr[k]) for k, name in enumerate(COUNTERS)}

    def divergences(self):
        d = {name: int(self.div[k]) for k, name in enumerate(DIVERGENCES)}
        if self.nf_on:
            d["host_out_nf_drop"] = int(self.nf_div_out_drop)
            d["nat_port_adopted"] = int(self.nf_div_port)
        return d

    def listener_stats(self):
        cdef int32_t i
        cdef LSock* L
        out = []
        for i in range(self.nls):
            L = &self.ls[i]
            if i >= self.ntcp:
                out.append({
                    "proto": "udp", "rcvbuf": int(L.rcvbuf),
                    "queue_datagrams": int(L.u_qn), "queue_bytes": int(L.u_qbytes),
                    "rmem_alloc": int(L.u_rmem), "max_rmem_alloc": int(L.u_max_rmem),
                    "max_queue_datagrams": int(L.u_max_qn), "received": int(L.u_rcvd),
                    "rcvbuf_errors": int(L.u_drops), "read_datagrams": int(L.u_read_n),
                    "read_bytes": int(L.u_read_bytes),
                })
                continue
            out.append({
                "proto": "tcp",
                "syn_queue": int(L.qlen), "syn_queue_young": int(L.young),
                "syn_queue_max": int(L.max_qlen_seen),
                "accept_queue": int(L.ack_backlog), "accept_queue_max": int(L.max_ack_seen),
                "max_ack_backlog": int(L.max_ack_backlog),
                "overflows": int(L.overflows), "drops": int(L.drops),
                "reqqfull_drop": int(L.reqqfull_drop),
                "reqqfull_cookies": int(L.reqqfull_cookies),
                "cookies_sent": int(L.cookies_sent), "cookies_recv": int(L.cookies_recv),
                "cookies_failed": int(L.cookies_failed),
                "synacks": int(L.synacks), "passive_opens": int(L.passive_opens),
                "accepted": int(L.accepted), "req_expired": int(L.req_expired),
                "embryonic_rsts": int(L.embryonic_rsts),
            })
        return out

    def socket_count(self):
        return int(self.dm.count)

    def timers_pending(self):
        return int(self.heap_n)

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    cdef inline uint32_t _rand32(self) noexcept nogil:
        self.rng += <uint64_t>0x9e3779b97f4a7c15ULL
        return <uint32_t>(mix64(self.rng) >> 32)

    cdef inline bint _is_local(self, uint64_t w0, uint64_t w1,
                               const uint8_t* a) noexcept nogil:
        cdef int32_t k
        cdef uint64_t pos
        cdef int32_t e
        if self.nhaddr <= 4:
            for k in range(self.nhaddr):
                if self.haddr[2 * k + 1] == w1 and self.haddr[2 * k] == w0:
                    return True
        else:
            pos = mix64(w0 ^ (w1 * <uint64_t>0x9e3779b97f4a7c15ULL)) & self.hmask
            while True:
                e = self.hslot[pos]
                if e < 0:
                    break
                if self.haddr[2 * e + 1] == w1 and self.haddr[2 * e] == w0:
                    return True
                pos = (pos + 1) & self.hmask
        # loopback: 127/8 (as ::ffff:127.x.x.x) and ::1 (HostConfig.is_local)
        if (a[10] == 0xff and a[11] == 0xff and a[12] == 127 and w0 == 0
                and a[8] == 0 and a[9] == 0):
            return True
        if w0 == 0 and a[8] == 0 and a[9] == 0 and a[10] == 0 and a[11] == 0 \
                and a[12] == 0 and a[13] == 0 and a[14] == 0 and a[15] == 1:
            return True
        return False

    cdef inline void _ev(self, int64_t ts, int64_t conn_id, int32_t lis, uint8_t kind,
                         uint32_t seq, uint32_t ack, uint16_t win, uint16_t flags,
                         uint8_t wscale, uint16_t mss) noexcept nogil:
        cdef Event* e
        if self.ev_n >= self.ev_cap:
            self.div[DV_EV_DROPPED] += 1
            return
        e = &self.ev[self.ev_n]
        self.ev_n += 1
        e.ts = ts
        e.conn_id = conn_id
        e.listener = lis
        e.kind = kind
        e.seq = seq
        e.ack = ack
        e.win = win
        e.flags = flags
        e.wscale = wscale
        e.mss = mss

    # --- transmit-side accounting (every packet the host sends, once) --------
    cdef inline void _ip_out(self, bint v6, int64_t length) noexcept nogil:
        """ip_output.c __ip_local_out (OutRequests, before LOCAL_OUT) and
        ip_finish_output2 (IPSTATS_MIB_OUT: OutTransmits + OutOctets of skb->len,
        after POST_ROUTING); ip6_output.c ip6_xmit / ip6_finish_output2 alike.
        One call per unfragmented packet the host transmits."""
        if v6:
            self.ctr[<int>C_Ip6OutRequests] += 1
            self.ctr[<int>C_Ip6OutTransmits] += 1
            self.ctr[<int>C_Ip6OutOctets] += length
        else:
            self.ctr[<int>C_IpOutRequests] += 1
            self.ctr[<int>C_IpOutTransmits] += 1
            self.ctr[<int>C_IpExtOutOctets] += length

    cdef inline void _tcp_out(self, bint v6, int64_t optlen) noexcept nogil:
        """A TCP segment without payload the model builds itself: IP header
        (20, IPv6 40; no IP options) + struct tcphdr (20) + optlen."""
        self._ip_out(v6, (40 if v6 else 20) + 20 + optlen)

    cdef inline int64_t _synack_optlen(self, uint8_t skf) noexcept nogil:
        # tcp_output.c tcp_synack_options: MSS always (TCPOLEN_MSS_ALIGNED),
        # wscale (TCPOLEN_WSCALE_ALIGNED), timestamps (TCPOLEN_TSTAMP_ALIGNED),
        # SACK-permitted takes 4 bytes only without timestamps (else it
        # rides in the timestamp's NOPs); no MD5/AO/TFO/AccECN modelled
        cdef int64_t n = 4
        if skf & SKF_WSCALE_OK:
            n += 4
        if skf & SKF_TSTAMP_OK:
            n += 12
        elif skf & SKF_SACK_OK:
            n += 4
        return n

    cdef int64_t _ack_optlen(self, Sock* k) noexcept nogil:
        """tcp_output.c tcp_established_options for the model's own ACKs:
        timestamps when tstamp_ok; SACK blocks eff_sacks = num_sacks + dsack,
        at most (remaining - TCPOLEN_SACK_BASE_ALIGNED) / TCPOLEN_SACK_PERBLOCK
        (3 with timestamps, 4 without).  num_sacks is taken as the number of
        disjoint out-of-order ranges, at most TCP_NUM_SACKS (4): the
        selective_acks bookkeeping (tcp_sack_new_ofo_skb, its reset in
        tcp_prune_ofo_queue) is not modelled block by block."""
        cdef int64_t n = 0, room, nb = 0, maxb
        cdef int32_t e
        cdef uint32_t end
        if k.xflags & XF_TS:
            n = 12
        if not (k.flags & SKF_SACK_OK):
            return n
        room = 40 - n
        maxb = (room - 4) // 8
        if k.xflags & XF_DSACK:
            nb = 1
        e = k.ofo_head
        if e >= 0:
            nb += 1
            end = self.skb[e].end_seq
            e = self.skb[e].next
            while e >= 0 and nb < maxb:
                if seq_after(self.skb[e].seq, end):
                    nb += 1
                if seq_after(self.skb[e].end_seq, end):
                    end = self.skb[e].end_seq
                e = self.skb[e].next
        if nb > maxb:
            nb = maxb
        if nb:
            n += 4 + 8 * nb
        return n

    cdef inline void _dsack_set(self, Sock* k) noexcept nogil:
        # tcp_input.c tcp_dsack_set / tcp_dsack_extend (tcp_is_sack and
        # sysctl tcp_dsack, taken as its default 1); cleared by the next
        # segment whose options are written (tcp_options_write)
        if k.flags & SKF_SACK_OK:
            k.xflags |= XF_DSACK

    # --- timer heap (binary min-heap on (when, order)) ------------------
    cdef inline bint _tless(self, int64_t a, int64_t b) noexcept nogil:
        cdef TimerEnt* x = &self.heap[a]
        cdef TimerEnt* y = &self.heap[b]
        return x.when < y.when or (x.when == y.when and x.order < y.order)

    cdef inline int32_t* _posp(self, uint8_t kind, int32_t owner) noexcept nogil:
        if kind == TK_ACCEPT:
            return &self.ls[owner].heap_pos
        if kind == TK_READ:
            return &self.dm.socks[owner].heap_pos2
        if kind == TK_UREAD:
            return &self.ls[owner].heap_pos        # a UDP socket has no accept timer
        return &self.dm.socks[owner].heap_pos

    cdef inline void _tset_pos(self, int64_t k) noexcept nogil:
        cdef TimerEnt* e = &self.heap[k]
        self._posp(e.kind, e.owner)[0] = <int32_t>k

    cdef void _tswap(self, int64_t a, int64_t b) noexcept nogil:
        cdef TimerEnt t = self.heap[a]
        self.heap[a] = self.heap[b]
        self.heap[b] = t
        self._tset_pos(a)
        self._tset_pos(b)

    cdef void _tup(self, int64_t k) noexcept nogil:
        cdef int64_t p
        while k > 0:
            p = (k - 1) >> 1
            if self._tless(k, p):
                self._tswap(k, p)
                k = p
            else:
                break

    cdef void _tdown(self, int64_t k) noexcept nogil:
        cdef int64_t l, r, m
        while True:
            l = 2 * k + 1
            r = l + 1
            m = k
            if l < self.heap_n and self._tless(l, m):
                m = l
            if r < self.heap_n and self._tless(r, m):
                m = r
            if m == k:
                break
            self._tswap(k, m)
            k = m

    cdef void _tarm(self, uint8_t kind, int32_t owner, int64_t when) noexcept nogil:
        """Arm (or re-arm) the owner's timer."""
        cdef int32_t pos = self._posp(kind, owner)[0]
        cdef int64_t k
        if pos >= 0:
            self.heap[pos].when = when
            self.heap[pos].order = self.heap_order
            self.heap_order += 1
            self._tup(pos)
            k = self._posp(kind, owner)[0]
            self._tdown(k)
            return
        k = self.heap_n
        self.heap_n += 1
        self.heap[k].when = when
        self.heap[k].order = self.heap_order
        self.heap_order += 1
        self.heap[k].owner = owner
        self.heap[k].kind = kind
        self._tset_pos(k)
        self._tup(k)

    cdef void _tcancel(self, uint8_t kind, int32_t owner) noexcept nogil:
        cdef int32_t pos = self._posp(kind, owner)[0]
        cdef int64_t last
        if pos < 0:
            return
        last = self.heap_n - 1
        if pos != last:
            self._tswap(pos, last)
        self.heap_n -= 1
        self._posp(kind, owner)[0] = -1
        if pos < self.heap_n:
            self._tup(pos)
            self._tdown(self._posp(self.heap[pos].kind, self.heap[pos].owner)[0])

    cdef void _run_timers(self, int64_t until) noexcept nogil:
        cdef TimerEnt e
        cdef int32_t li
        while self.heap_n > 0 and self.heap[0].when <= until:
            e = self.heap[0]
            self._tcancel(e.kind, e.owner)
            if e.when > self.now:
                self.now = e.when
            li = -1
            if self.smp_on and e.kind == TK_REQ:
                li = self.dm.socks[e.owner].listener
            if e.kind == TK_REQ:
                self._reqsk_timer(e.owner, e.when)
            elif e.kind == TK_ACCEPT:
                self._accept_timer(e.owner, e.when)
            elif e.kind == TK_DELACK:
                self._delack_timer(e.owner, e.when)
            elif e.kind == TK_TW:
                self._tw_expire(e.owner, e.when)
            elif e.kind == TK_UREAD:
                self._uread_timer(e.owner, e.when)
            else:
                self._read_timer(e.owner, e.when)
            if self.smp_on:
                self._smp_timer(e.kind, e.owner, li, e.when)

    # --- request socks --------------------------------------------------
    cdef inline int64_t _reqsk_timeout(self, Sock* k) noexcept nogil:
        # reqsk_timeout(req, max): min(req->timeout << num_timeout, max)
        cdef int64_t t
        if k.num_timeout >= 40:
            return self.rto_max_ns
        t = self.timeout_init_ns << k.num_timeout
        return t if t < self.rto_max_ns else self.rto_max_ns

    cdef void _req_unlink(self, int32_t s) noexcept nogil:
        """inet_csk_reqsk_queue_drop: reqsk_queue_removed + unhash + timer."""
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        L.qlen -= 1
        if k.num_timeout == 0:
            L.young -= 1
        self._tcancel(TK_REQ, s)
        demux_remove(&self.dm, s)

    cdef void _rtx_synack(self, Sock* k, int64_t when, bint timer) noexcept nogil:
        """tcp_rtx_synack: RetransSegs, TCPSynRetrans (+ OutSegs, tcp_make_synack)."""
        cdef LSock* L = &self.ls[k.listener]
        self.ctr[<int>C_TcpRetransSegs] += 1
        self.ctr[<int>C_TcpExtTCPSynRetrans] += 1
        self.ctr[<int>C_TcpOutSegs] += 1
        self._tcp_out(k.family == 6, self._synack_optlen(k.flags))
        L.synacks += 1
        if timer:
            self._ev(when, k.conn_id, k.listener, EV_SYNACK_RETRANS, k.snt_isn,
                     k.rcv_isn + 1, self._synack_win(L, k), TH_SYN | TH_ACK,
                     k.rcv_wscale if (k.flags & SKF_WSCALE_OK) else 255, L.advmss)

    cdef inline uint16_t _synack_win(self, LSock* L, Sock* k) noexcept nogil:
        return <uint16_t>(k.rsk_rcv_wnd if k.rsk_rcv_wnd < 65535 else 65535)

    cdef void _reqsk_timer(self, int32_t s, int64_t when) noexcept nogil:
        """inet_connection_sock.c: reqsk_timer_handler()."""
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        cdef int max_retries = L.synack_retries
        cdef int64_t qlen = L.qlen, young
        cdef int64_t lim = L.max_ack_backlog if L.max_ack_backlog > 8 else 8
        cdef bint expire
        if (qlen << 1) > lim:
            young = L.young << 1
            while max_retries > 2:
                if qlen < young:
                    break
                max_retries -= 1
                young <<= 1
        expire = k.num_timeout >= max_retries
        self.ctr[<int>C_TcpExtTCPTimeouts] += 1          # tcp_syn_ack_timeout()
        if not expire:
            self._rtx_synack(k, when, True)
            if k.num_timeout == 0:
                L.young -= 1
            k.num_timeout += 1
            self._tarm(TK_REQ, s, when + self._reqsk_timeout(k))
            return
        L.req_expired += 1
        self._ev(when, k.conn_id, k.listener, EV_REQ_EXPIRED, 0, 0, 0, 0, 255, 0)
        self._req_unlink(s)

    # --- accept queue / application model --------------------------------
    cdef inline bint _acceptq_full(self, LSock* L) noexcept nogil:
        # include/net/sock.h: sk_acceptq_is_full (profile: '>' or '>=')
        if self.aq_full_ge:
            return L.ack_backlog >= L.max_ack_backlog
        return L.ack_backlog > L.max_ack_backlog

    cdef inline bint _synq_full(self, LSock* L) noexcept nogil:
        # inet_csk_reqsk_queue_is_full (profile)
        if self.synq_full_ge:
            return L.qlen >= L.max_ack_backlog
        return L.qlen > L.max_ack_backlog

    cdef void _acceptq_add(self, int32_t li, int32_t s, int64_t now) noexcept nogil:
        cdef LSock* L = &self.ls[li]
        cdef Sock* k = &self.dm.socks[s]
        k.flags |= SKF_IN_ACCEPTQ
        k.acceptq_ns = now
        if k.rec >= 0:
            self.rec[k.rec].acq_ns = now
        if L.app == APP_IMMEDIATE:
            # accept() at once: the queue never holds it past this packet
            L.ack_backlog += 1
            if L.ack_backlog > L.max_ack_seen:
                L.max_ack_seen = L.ack_backlog
            self._accept_one(li, s, now)
            return
        if L.ack_backlog >= L.aq_cap:       # cannot happen: bounded by max_ack_backlog + 1
            return
        L.aq[(L.aq_head + L.ack_backlog) % L.aq_cap] = s
        L.ack_backlog += 1
        if L.ack_backlog > L.max_ack_seen:
            L.max_ack_seen = L.ack_backlog
        if L.app != APP_NEVER and L.heap_pos < 0:
            self._schedule_accept(li)

    cdef void _accept_one(self, int32_t li, int32_t s, int64_t when) noexcept nogil:
        cdef LSock* L = &self.ls[li]
        cdef Sock* k = &self.dm.socks[s]
        L.ack_backlog -= 1
        L.accepted += 1
        L.last_accept_ns = when
        L.accepted_any = 1
        k.flags = (k.flags & ~SKF_IN_ACCEPTQ) | SKF_ACCEPTED
        self._ev(when, k.conn_id, li, EV_ACCEPT, 0, 0, 0, 0, 255, 0)
        if k.state == TS_CLOSE:
            # closed while it waited in the accept queue: accept() returns
            # it and the application closes it
            demux_free(&self.dm, s)
            return
        k.accepted_ns = when
        if k.rec >= 0:
            self.rec[k.rec].accepted_ns = when
        self._read_start(s, when)
        if self.smp_on and k.rec >= 0:
            self._smp_sock(s, <uint32_t>(self._select_window(k, False) << k.rcv_wscale))

    cdef void _schedule_accept(self, int32_t li) noexcept nogil:
        """Time of the next accept() (head of the queue), per pystack.appmodel
        accept_times(): FIFO, delay, token bucket (exact integer arithmetic)."""
        cdef LSock* L = &self.ls[li]
        cdef int64_t ready, t, full, elapsed, T, wait
        if L.ack_backlog == 0:
            return
        ready = self.dm.socks[L.aq[L.aq_head]].acceptq_ns
        if L.app == APP_DELAY:
            t = ready + L.delay_ns
            if L.accepted_any and t < L.last_accept_ns:
                t = L.last_accept_ns
        else:   # APP_RATE
            t = ready
            if L.accepted_any and t < L.last_accept_ns:
                t = L.last_accept_ns
            full = L.burst * L.rate_per_ns
            T = L.tok
            if L.tok_started:
                elapsed = t - L.tok_last_ns
                if elapsed > 0:
                    if elapsed >= (full - T) // L.rate_count + 1:
                        T = full
                    else:
                        T += elapsed * L.rate_count
                        if T > full:
                            T = full
            if T < L.rate_per_ns:
                wait = (L.rate_per_ns - T + L.rate_count - 1) // L.rate_count
                t += wait
                T += wait * L.rate_count
                if T > full:
                    T = full
            L.tok_pending = T - L.rate_per_ns
        self._tarm(TK_ACCEPT, li, t)

    cdef void _accept_timer(self, int32_t li, int64_t when) noexcept nogil:
        cdef LSock* L = &self.ls[li]
        cdef int32_t s
        if L.ack_backlog == 0:
            return
        s = L.aq[L.aq_head]
        L.aq_head = (L.aq_head + 1) % L.aq_cap
        if L.app == APP_RATE:
            L.tok = L.tok_pending
            L.tok_last_ns = when
            L.tok_started = 1
        self._accept_one(li, s, when)
        if L.ack_backlog > 0:
            self._schedule_accept(li)

    # --- listener lookup (sheet 8.2) --------------------------------------
    cdef int32_t _lookup_listener(self, bint v6, uint64_t d0, uint64_t d1, uint16_t dport,
                                  uint64_t s0, uint64_t s1, uint16_t sport,
                                  bint udp=False) noexcept nogil:
        cdef int32_t i = self.uport_head[dport] if udp else self.port_head[dport]
        cdef int32_t best = -1
        cdef LSock* L
        cdef uint8_t kd
        cdef uint64_t h
        # exact-address listeners first (lhash2 bucket of daddr), then the
        # wildcard bucket; replay.py orders each port's chain that way, with
        # AF_INET before a dual-stack AF_INET6 socket (compute_score +1).
        while i >= 0:
            L = &self.ls[i]
            kd = L.kind
            if v6:
                if (kd == LK_V6_EXACT and L.a0 == d0 and L.a1 == d1) or kd == LK_V6_ANY \
                        or kd == LK_V6_ANY_ONLY:
                    best = i
                    break
            else:
                if (kd == LK_V4_EXACT and L.a0 == d0 and L.a1 == d1) or kd == LK_V4_ANY \
                        or kd == LK_V6_ANY:
                    best = i
                    break
            i = L.next_on_port
        if best >= 0 and self.ls[best].group_n > 1:
            # reuseport_select_sock_by_hash: reciprocal_scale(hash, n)
            L = &self.ls[best]
            h = tuple_hash(self.dm.seed ^ <uint64_t>0x7265757365ULL, d0, d1, s0, s1,
                           dport, sport) & <uint64_t>0xffffffffULL
            best = self.group[L.group_off + <int32_t>((h * <uint64_t>L.group_n) >> 32)]
        return best

    # --- syncookie table ----------------------------------------------------
    cdef inline void _synq_overflow(self, LSock* L, int64_t now) noexcept nogil:
        # include/net/tcp.h: tcp_synq_overflow(): restamp at most once per second
        if not (L.has_overflow and now >= L.last_overflow_ns
                and now <= L.last_overflow_ns + 1000000000):
            L.last_overflow_ns = now
            L.has_overflow = 1

    cdef inline bint _synq_no_recent_overflow(self, LSock* L, int64_t now) noexcept nogil:
        # include/net/tcp.h: tcp_synq_no_recent_overflow()
        if not L.has_overflow:
            return True
        return not (now >= L.last_overflow_ns - 1000000000
                    and now <= L.last_overflow_ns + self.synq_valid_ns)

    cdef inline uint16_t _cookie_mss(self, bint v6, uint16_t peer_mss) noexcept nogil:
        # syncookies.c cookie_v4_init_sequence / cookie_v6_init_sequence: msstab
        cdef const uint16_t* tab = &self.msstab4[0]
        if v6:
            tab = &self.msstab6[0]
        cdef int j = 3
        while j > 0:
            if peer_mss >= tab[j]:
                break
            j -= 1
        return tab[j]

    # ------------------------------------------------------------------
    # per packet
    # ------------------------------------------------------------------
    cdef inline void _prefetch(self, Py_ssize_t j) noexcept nogil:
        """Hash row j's 4-tuple (as an inbound segment) and prefetch the ehash
        and cookie slots it will touch: under a SYN flood both are random
        accesses into tables bigger than the caches."""
        cdef Batch* c = &self.b
        cdef uint64_t s0, s1, d0, d1
        cdef uint64_t h
        if c.ip_proto[j] != 6 or not (c.flags[j] & PF_L4):
            return
        load_addr(c.saddr + 16 * j, &s0, &s1)
        load_addr(c.daddr + 16 * j, &d0, &d1)
        h = tuple_hash(self.dm.seed, d0, d1, s0, s1, c.dport[j], c.sport[j])
        self.hrow[j & (HRING - 1)] = j
        self.hval[j & (HRING - 1)] = h
        PSE_PREFETCH_W(&self.dm.slots[h & self.dm.mask])
        PSE_PREFETCH_W(&self.ck[h & self.ck_mask])

    cdef inline void _nf_prefetch(self, Py_ssize_t j) noexcept nogil:
        """The conntrack bucket row j's lookup will read (its captured tuple:
        the one conntrack_in hashes at PRE_ROUTING / LOCAL_OUT), so that
        AHEAD // 2 rows later ct_prefetch_node finds the head cached.  TCP
        and UDP rows only; a row whose tuple NAT rewrites or whose entry
        is not there just wastes the prefetch.  A bare SYN opens a
        connection, a UDP datagram often does: with a nat table, NAT's setup
        (nf_nat_setup_info, even for the null binding) then looks up the
        inverted tuple in the same table, so its bucket is prefetched as
        well, and the source-NAT bucket (nf_nat_bysource) its entry joins."""
        cdef Batch* c = &self.b
        cdef CtTuple t
        cdef uint32_t fl = c.flags[j]
        cdef uint8_t proto = c.ip_proto[j]
        cdef bint v6 = (fl & PF_IPV6) != 0
        cdef uint64_t h = 0, r = 0
        if (proto == 6 or proto == 17) and (fl & PF_L4) and not (fl & PF_FRAG):
            _nf_addr(c.saddr + 16 * j, v6, t.src)
            _nf_addr(c.daddr + 16 * j, v6, t.dst)
            (<uint64_t*>&t)[4] = 0
            t.sport = c.sport[j]
            t.dport = c.dport[j]
            t.proto = proto
            t.family = 6 if v6 else 4
            h = ct_hash(self.nf_ct, &t)
            ct_prefetch_bucket(self.nf_ct, h)
            if (proto == 17 or (c.tcp_flags[j] & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) and \
                    self._nf_has_nat(t.family):
                ct_prefetch_bysrc(self.nf_ct, &t)
                _nf_addr(c.daddr + 16 * j, v6, t.src)
                _nf_addr(c.saddr + 16 * j, v6, t.dst)
                t.sport = c.dport[j]
                t.dport = c.sport[j]
                r = ct_hash(self.nf_ct, &t)
                ct_prefetch_bucket(self.nf_ct, r)
        self.ct_hval[j & (HRING - 1)] = h
        self.ct_rval[j & (HRING - 1)] = r

    cdef void _row(self, Py_ssize_t i) noexcept nogil:
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint32_t fl = c.flags[i]
        cdef uint8_t st = c.status[i]
        cdef const uint8_t* sa = c.saddr + 16 * i
        cdef const uint8_t* da = c.daddr + 16 * i
        cdef uint64_t s0, s1, d0, d1
        cdef bint v6, src_local, dst_local, known
        cdef uint8_t dirn
        v.direction[i] = DIR_OTHER
        v.verdict[i] = V_NOT_HOST
        v.reason[i] = 0
        v.conn_id[i] = -1
        v.sock_state[i] = TS_NONE
        v.listener[i] = -1
        v.reply[i] = R_NONE
        v.reply_seq[i] = 0
        v.reply_ack[i] = 0
        v.reply_win[i] = 0
        v.reply_flags[i] = 0
        v.reply_wscale[i] = 255
        v.reply_mss[i] = 0
        v.adv_win[i] = 0
        v.win_diff[i] = 0
        v.rcv_queue[i] = 0
        if fl & PF_BAD_LINK:
            v.verdict[i] = V_UNMODELLED
            v.reason[i] = st
            return
        if (fl & PF_NOT_IP) or not (fl & (PF_IPV4 | PF_IPV6)):
            return
        v6 = (fl & PF_IPV6) != 0
        load_addr(sa, &s0, &s1)
        load_addr(da, &d0, &d1)
        known = (d0 | d1 | s0 | s1) != 0
        src_local = known and self._is_local(s0, s1, sa)
        dst_local = known and self._is_local(d0, d1, da)
        # whether the captured addresses are the host's, for the hooks
        # (_nf_input's route lookup, -m addrtype) while no NAT rewrote them
        self.nf_slocal = src_local if known else -1
        self.nf_dlocal = dst_local if known else -1
        if c.pkt_type[i] == PKTTYPE_OUTGOING:
            dirn = DIR_OUT
        elif src_local and dst_local:
            dirn = DIR_OUT if self._source_is_ours(i, v6, s0, s1, d0, d1) else DIR_IN
        elif src_local:
            dirn = DIR_OUT
        elif dst_local or not known:
            dirn = DIR_IN
        elif self.ip_forward:
            dirn = DIR_FWD
        else:
            dirn = DIR_OTHER
        v.direction[i] = dirn
        if st == DR_HDR_TRUNC and (fl & PF_TRUNCATED):
            v.verdict[i] = V_UNMODELLED       # our pull failed: capture artefact
            v.reason[i] = st
            return
        if dirn == DIR_OUT:
            v.verdict[i] = V_SENT
            if self.nf_on and self._nf_row(i, v6, dirn):
                return
            self._outbound(i, v6, s0, s1, d0, d1)
            return
        if dirn != DIR_IN:
            if not self.nf_on or self._nf_row(i, v6, dirn):
                return
        if c.pkt_type[i] == PKTTYPE_OTHERHOST:
            v.verdict[i] = V_DROPPED          # ip_rcv: before any IP counter
            v.reason[i] = DR_OTHERHOST
            return
        if v6:
            self._ip6_rcv(i, st, fl, s0, s1, d0, d1)
        else:
            self._ip4_rcv(i, st, fl, s0, s1, d0, d1)

    cdef bint _source_is_ours(self, Py_ssize_t i, bint v6, uint64_t s0, uint64_t s1,
                              uint64_t d0, uint64_t d1) noexcept nogil:
        cdef Batch* c = &self.b
        cdef uint16_t sp = c.sport[i], dp = c.dport[i]
        cdef uint32_t h
        if c.ip_proto[i] != 6 or not (c.flags[i] & PF_L4):
            return False
        h = <uint32_t>tuple_hash(self.dm.seed, s0, s1, d0, d1, sp, dp)
        if demux_find(&self.dm, s0, s1, d0, d1, sp, dp, h) >= 0:
            return True
        if self._lookup_listener(v6, s0, s1, sp, d0, d1, dp) >= 0:
            # a listener owns (saddr, sport): unless the destination side is
            # a connection we know as local, the packet comes from it
            h = <uint32_t>tuple_hash(self.dm.seed, d0, d1, s0, s1, dp, sp)
            return demux_find(&self.dm, d0, d1, s0, s1, dp, sp, h) < 0
        return False

    cdef inline void _drop(self, Py_ssize_t i, uint8_t reason) noexcept nogil:
        self.vo.verdict[i] = V_DROPPED
        self.vo.reason[i] = reason

    cdef void _ip4_rcv(self, Py_ssize_t i, uint8_t st, uint32_t fl, uint64_t s0,
                       uint64_t s1, uint64_t d0, uint64_t d1) noexcept nogil:
        cdef Batch* c = &self.b
        cdef Batch* rb = &self.b
        cdef int64_t l3 = c.l3_off[i]
        cdef int64_t length = <int64_t>rb.wirelen[i] - l3
        cdef int64_t cap = <int64_t>rb.caplen[i] - l3
        cdef const uint8_t* p = rb.base + rb.offset[i]
        cdef uint8_t b0, proto
        # ip_rcv_core (sheet 1.1)
        self.ctr[<int>C_IpInReceives] += 1
        self.ctr[<int>C_IpExtInOctets] += length
        if st == 0:
            # the parser passed the header: version 4, ihl >= 5, 20 bytes
            # captured (the packet's bytes, a batch behind, stay unread)
            self.ctr[<int>C_IpExtInNoECTPkts + (c.ip_tos[i] & 3)] += 1
        elif length >= 20 and cap >= 1:
            b0 = p[l3]
            if (b0 >> 4) == 4 and (b0 & 15) >= 5:
                self.ctr[<int>C_IpExtInNoECTPkts + (c.ip_tos[i] & 3)] += 1
        if st == DR_IP_INHDR:
            self.ctr[<int>C_IpInHdrErrors] += 1
            self._drop(i, st)
            return
        if st == DR_IP_CSUM:
            self.ctr[<int>C_IpExtInCsumErrors] += 1
            self.ctr[<int>C_IpInHdrErrors] += 1
            self._drop(i, st)
            return
        if st == DR_PKT_TOO_SMALL and length < <int64_t>c.ip_len[i]:
            self.ctr[<int>C_IpExtInTruncatedPkts] += 1
            self._drop(i, st)
            return
        # ip_local_deliver
        if fl & PF_FRAG:
            self.ctr[<int>C_IpReasmReqds] += 1
            self.vo.verdict[i] = V_QUEUED
            return
        if self.nf_on:
            # PRE_ROUTING, routing, LOCAL_IN (or forward); NAT rewrote the row
            if not self._nf_input(i, False):
                return
            load_addr(c.saddr + 16 * i, &s0, &s1)
            load_addr(c.daddr + 16 * i, &d0, &d1)
        proto = c.ip_proto[i]
        if proto == 6:
            self._tcp_rcv(i, st, fl, False, s0, s1, d0, d1)
            self.ctr[<int>C_IpInDelivers] += 1
        elif proto == 17:
            self._udp_rcv(i, st, fl, False, s0, s1, d0, d1)
            self.ctr[<int>C_IpInDelivers] += 1
        elif proto == 1:
            self._icmp_rcv(i, st, s0, s1)
            self.ctr[<int>C_IpInDelivers] += 1
        elif proto == 2:
            # igmp_rcv: not modelled
            self.ctr[<int>C_IpInDelivers] += 1
            if st != 0:
                self._drop(i, st)
            else:
                self.vo.verdict[i] = V_DELIVERED
        else:
            self.ctr[<int>C_IpInUnknownProtos] += 1
            self._drop(i, DR_IP_NOPROTO)

    cdef void _ip6_rcv(self, Py_ssize_t i, uint8_t st, uint32_t fl, uint64_t s0,
                       uint64_t s1, uint64_t d0, uint64_t d1) noexcept nogil:
        cdef Batch* c = &self.b
        cdef Batch* rb = &self.b
        cdef int64_t length = <int64_t>rb.wirelen[i] - <int64_t>c.l3_off[i]
        cdef uint8_t proto
        # ip6_rcv_core
        self.ctr[<int>C_Ip6InReceives] += 1
        self.ctr[<int>C_Ip6InOctets] += length
        if length >= 40 and st != DR_UNHANDLED_PROTO:
            # ECN accounting after the version check, before the address checks
            self.ctr[<int>C_Ip6InNoECTPkts + (c.ip_tos[i] & 3)] += 1
        if st == DR_IP_INHDR or st == DR_UNHANDLED_PROTO or st == DR_IPV6_BAD_EXTHDR:
            self.ctr[<int>C_Ip6InHdrErrors] += 1
            self._drop(i, st)
            return
        if st == DR_PKT_TOO_SMALL and length < <int64_t>c.ip_len[i]:
            self.ctr[<int>C_Ip6InTruncatedPkts] += 1
            self._drop(i, st)
            return
        if fl & PF_FRAG:
            self.ctr[<int>C_Ip6ReasmReqds] += 1
            self.vo.verdict[i] = V_QUEUED
            return
        if self.nf_on:
            if not self._nf_input(i, True):
                return
            load_addr(c.saddr + 16 * i, &s0, &s1)
            load_addr(c.daddr + 16 * i, &d0, &d1)
        proto = c.ip_proto[i]
        if proto == 6:
            self._tcp_rcv(i, st, fl, True, s0, s1, d0, d1)
            self.ctr[<int>C_Ip6InDelivers] += 1
        elif proto == 17:
            self._udp_rcv(i, st, fl, True, s0, s1, d0, d1)
            self.ctr[<int>C_Ip6InDelivers] += 1
        elif proto == 58:
            self._icmp6_rcv(i, st, s0, s1)
            self.ctr[<int>C_Ip6InDelivers] += 1
        else:
            self.ctr[<int>C_Ip6InUnknownProtos] += 1
            self._drop(i, DR_IP_NOPROTO)

    # --- ICMP output rate limits -------------------------------------------
    cdef bint _icmp_global_allow(self) noexcept nogil:
        """icmp.c icmp_global_allow: the per-netns bucket shared by IPv4 and
        IPv6 (icmp_msgs_per_sec / icmp_msgs_burst); refilled at most every
        HZ/50, credit consumed later by icmp_global_consume."""
        cdef int64_t now_j = self.now // 1000000
        cdef int64_t delta, incr
        if self.icmp_credit <= 0:
            delta = now_j - self.icmp_stamp_j
            if delta > 1000:
                delta = 1000
            if delta < 1000 // 50:
                return False
            incr = self.icmp_msgs_per_sec * delta // 1000
            if incr == 0:
                return False
            self.icmp_stamp_j = now_j
            self.icmp_credit = self.icmp_credit + incr
            if self.icmp_credit > self.icmp_msgs_burst:
                self.icmp_credit = self.icmp_msgs_burst
        return True

    cdef bint _peer_xrlim_allow(self, uint64_t p0, uint64_t p1, bint v6,
                                int64_t tmo) noexcept nogil:
        """inetpeer.c inet_peer_xrlim_allow on the peer of (p0, p1) in the
        family's base (direct-mapped table: an evicted peer comes back with a
        full bucket, as a new inet_peer would); on success icmp_global_consume
        takes a random 0-2 credits (6.11+, seeded PRNG)."""
        cdef int64_t now_j = self.now // 1000000
        cdef int64_t delta, token
        cdef Peer* pe
        cdef uint64_t slot
        slot = mix64(p0 ^ mix64(p1 ^ self.dm.seed ^ (<uint64_t>0x6a09e667f3bcc909ULL
                                                      if v6 else 0))) & self.peer_mask
        pe = &self.peers[slot]
        if not pe.used or pe.a0 != p0 or pe.a1 != p1 or pe.v6 != v6:
            pe.used = 1
            pe.v6 = v6
            pe.a0 = p0
            pe.a1 = p1
            pe.rate_tokens = 0
            pe.rate_last = now_j - 60 * 1000      # inet_getpeer: jiffies - 60*HZ
        token = pe.rate_tokens
        delta = now_j - pe.rate_last
        if delta:
            pe.rate_last = now_j
            token += delta
            if token > 6 * tmo:                   # XRLIM_BURST_FACTOR
                token = 6 * tmo
        if token >= tmo:
            pe.rate_tokens = token - tmo
            self.icmp_credit -= self._rand32() % 3    # icmp_global_consume
            return True
        pe.rate_tokens = token
        return False

    cdef bint _icmp_xmit_allowed(self, uint8_t type, uint64_t p0, uint64_t p1,
                                 bint loopback) noexcept nogil:
        """icmp.c __icmp_send: icmpv4_global_allow + icmpv4_xrlim_allow
        (6.11+: random 0-2 credits consumed per message, seeded PRNG)."""
        if not ((1 << type) & self.icmp_ratemask) or loopback:
            return True
        if not self._icmp_global_allow():
            self.ctr[<int>C_IcmpOutRateLimitGlobal] += 1
            return False
        if self._peer_xrlim_allow(p0, p1, False, self.icmp_ratelimit_j):
            return True
        self.ctr[<int>C_IcmpOutRateLimitHost] += 1
        return False

    cdef bint _icmp6_xmit_allowed(self, uint8_t type, uint64_t p0, uint64_t p1,
                                  bint loopback) noexcept nogil:
        """net/ipv6/icmp.c (6.18.44) icmpv6_global_allow + icmpv6_xrlim_allow,
        as icmp6_send and icmpv6_echo_reply call them: a type outside
        net.ipv6.icmp.ratemask (icmpv6_mask_allow) or a loopback device skips
        both (apply_ratelimit stays false); the global bucket is the IPv4 one
        and its refusals count Icmp (ICMP_MIB_RATELIMITGLOBAL), not Icmp6; the
        per-peer bucket uses icmpv6_time as is (0201eedb69b2 dropped the
        shift for routes wider than /128; older kernels are not modelled) and
        counts Icmp6OutRateLimitHost.  ip6_route_output failing
        (Ip6OutNoRoutes) is not modelled: the peer is taken as routable."""
        if not ((self.icmp6_ratemask[type >> 6] >> (type & 63)) & 1) or loopback:
            return True
        if not self._icmp_global_allow():
            self.ctr[<int>C_IcmpOutRateLimitGlobal] += 1
            return False
        if self._peer_xrlim_allow(p0, p1, True, self.icmp6_ratelimit_j):
            return True
        self.ctr[<int>C_Icmp6OutRateLimitHost] += 1
        return False

    cdef void _icmp_rcv(self, Py_ssize_t i, uint8_t st, uint64_t s0, uint64_t s1) noexcept nogil:
        """icmp.c icmp_rcv (echo answered; other types consumed)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint8_t t
        self.ctr[<int>C_IcmpInMsgs] += 1
        if self.csum_err[i]:
            self.ctr[<int>C_IcmpInCsumErrors] += 1
            self.ctr[<int>C_IcmpInErrors] += 1
            self._drop(i, DR_ICMP_CSUM)
            return
        if st != 0:                                 # cannot pull the header
            self.ctr[<int>C_IcmpInErrors] += 1
            self._drop(i, st)
            return
        t = c.icmp_type[i]
        if t > 18:                                  # NR_ICMP_TYPES
            self.ctr[<int>C_IcmpInErrors] += 1
            self._drop(i, DR_UNHANDLED_PROTO)
            return
        if t == 3:
            self.ctr[<int>C_IcmpInDestUnreachs] += 1
        v.verdict[i] = V_DELIVERED
        if t == 8:
            self.ctr[<int>C_IcmpInEchos] += 1
            if not self.icmp_echo_ignore_all:
                # icmp_echo -> icmp_reply (echo reply is not in icmp_ratemask)
                self.ctr[<int>C_IcmpOutMsgs] += 1
                self.ctr[<int>C_IcmpOutEchoReps] += 1
                # icmp_reply: a 20-byte IP header (the request's IP options
                # echoed by ip_options_echo are not modelled) + the request's
                # whole ICMP message
                self._ip_out(False, 20 + <int64_t>c.l4_len[i])
                v.reply[i] = R_ICMP_ECHO_REPLY

    cdef void _icmp6_rcv(self, Py_ssize_t i, uint8_t st, uint64_t s0, uint64_t s1) noexcept nogil:
        """net/ipv6/icmp.c icmpv6_rcv: Icmp6InMsgs; checksum
        (skb_checksum_validate: Icmp6InCsumErrors + Icmp6InErrors, ICMP_CSUM);
        pskb_pull of the 8-byte header (Icmp6InErrors, NOT_SPECIFIED); the
        per-type In counter (ICMP6MSGIN_INC_STATS); an echo request answered
        by icmpv6_echo_reply unless net.ipv6.icmp.echo_ignore_all, under the
        rate limits when type 129 is in ratemask (not by default): a refused
        or ignored request is freed with reason NOT_SPECIFIED (icmpv6_rcv's
        initial reason).  Other types (ndisc_rcv, ping_rcv, icmpv6_notify)
        are taken as delivered: not modelled further."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint8_t t
        self.ctr[<int>C_Icmp6InMsgs] += 1
        if self.csum_err[i]:
            self.ctr[<int>C_Icmp6InCsumErrors] += 1
            self.ctr[<int>C_Icmp6InErrors] += 1
            self._drop(i, DR_ICMP_CSUM)
            return
        if st != 0:
            self.ctr[<int>C_Icmp6InErrors] += 1
            self._drop(i, st)
            return
        t = c.icmp_type[i]
        if t == 1:
            self.ctr[<int>C_Icmp6InDestUnreachs] += 1
            self.ctr[<int>C_Icmp6InType1] += 1
        elif t == 129:
            self.ctr[<int>C_Icmp6InEchoReplies] += 1
            self.ctr[<int>C_Icmp6InType129] += 1
        elif t == 128:
            self.ctr[<int>C_Icmp6InEchos] += 1
            self.ctr[<int>C_Icmp6InType128] += 1
            if (self.icmp6_echo_ignore_all or not self._icmp6_xmit_allowed(
                    129, s0, s1, self._is_local(s0, s1, c.saddr + 16 * i))):
                self._drop(i, DR_NOT_SPECIFIED)
                return
            # icmpv6_echo_reply -> ip6_append_data / __ip6_make_skb:
            # Icmp6OutMsgs + Icmp6OutEchoReplies; a 40-byte IPv6 header (no
            # extension headers) + the request's whole ICMPv6 message
            self.ctr[<int>C_Icmp6OutMsgs] += 1
            self.ctr[<int>C_Icmp6OutEchoReplies] += 1
            self.ctr[<int>C_Icmp6OutType129] += 1
            self._ip_out(True, 40 + <int64_t>c.l4_len[i])
            v.reply[i] = R_ICMP_ECHO_REPLY
        v.verdict[i] = V_DELIVERED

    # --- UDP ------------------------------------------------------------------
    cdef void _udp_enqueue(self, Py_ssize_t i, int32_t li, bint v6) noexcept nogil:
        """net/ipv4/udp.c __udp_queue_rcv_skb -> __udp_enqueue_schedule_skb
        (6.18; net/ipv6/udp.c __udpv6_queue_rcv_skb alike): size =
        skb->truesize; if rmem_alloc + size > sk_rcvbuf the datagram is
        dropped when rcvbuf > INT_MAX >> 1 or the queue is not empty
        (rmem_alloc != 0: "udp: refine __udp_enqueue_schedule_skb() test",
        net-next 2025-09, in 6.18; 6.15-6.17: rmem_alloc > rcvbuf, i.e. one
        datagram may overshoot).  -ENOMEM -> UDP_MIB_RCVBUFERRORS +
        UDP_MIB_INERRORS, SKB_DROP_REASON_SOCKET_RCVBUFF (MIBs of the
        packet's family: an IPv4 datagram on a dual-stack socket counts Udp).
        udp_rmem_schedule (udp_mem: MemErrors / PROTO_MEM) always succeeds.
        truesize = the engine's truesize model of the UDP payload length."""
        cdef LSock* L = &self.ls[li]
        cdef uint32_t plen = self.b.payload_len[i]
        cdef int64_t size = self._truesize(plen)
        cdef int32_t e
        if not L.u_started:
            L.u_started = 1
            L.u_t0 = self.now
            if L.rd_kind == RD_LOG:
                L.u_read_cur = 0
                self._ulog_arm(li)
        if L.u_rmem + size > L.rcvbuf:
            if L.rcvbuf > (0x7fffffff >> 1) or L.u_rmem != 0:
                self.ctr[<int>C_Udp6RcvbufErrors if v6 else <int>C_UdpRcvbufErrors] += 1
                self.ctr[<int>C_Udp6InErrors if v6 else <int>C_UdpInErrors] += 1
                self._drop(i, DR_SOCKET_RCVBUFF)
                L.u_drops += 1
                return
        e = self._skb_get()
        self.skb[e].seq = plen
        self.skb[e].end_seq = plen
        self.skb[e].truesize = <uint32_t>size
        self.skb[e].fin = 1 if v6 else 0
        if L.uq_tail >= 0:
            self.skb[L.uq_tail].next = e
        else:
            L.uq_head = e
        L.uq_tail = e
        L.u_rmem += size
        L.u_qbytes += plen
        L.u_qn += 1
        L.u_rcvd += 1
        if L.u_rmem > L.u_max_rmem:
            L.u_max_rmem = L.u_rmem
        if L.u_qn > L.u_max_qn:
            L.u_max_qn = L.u_qn
        if L.rd_kind == RD_AS_ARRIVES:
            self._udp_read(li, -1, False, self.now)
        elif L.rd_kind == RD_RATE or L.rd_kind == RD_CHUNK:
            self._uread_arm(li)

    cdef int64_t _udp_read(self, int32_t li, int64_t nbytes, bint one, int64_t when) noexcept nogil:
        """The application's recvmsg calls: udp.c udp_recvmsg (udpv6_recvmsg)
        takes one whole datagram per call (__skb_recv_udp; a short buffer
        truncates it, MSG_TRUNC, but it is consumed), counts
        UDP_MIB_INDATAGRAMS (the datagram's family) and frees the skb
        (udp_rmem_release: rmem_alloc -= truesize).  Datagrams are taken from
        the head while their total length fits `nbytes` (< 0: all), at least
        one when `one`.  Returns the bytes read."""
        cdef LSock* L = &self.ls[li]
        cdef int64_t total = 0, n = 0, ln
        cdef int32_t e
        while L.uq_head >= 0:
            e = L.uq_head
            ln = self.skb[e].seq
            if nbytes >= 0 and total + ln > nbytes and not (one and n == 0):
                break
            L.uq_head = self.skb[e].next
            if L.uq_head < 0:
                L.uq_tail = -1
            L.u_rmem -= self.skb[e].truesize
            L.u_qbytes -= ln
            L.u_qn -= 1
            self.ctr[<int>C_Udp6InDatagrams if self.skb[e].fin else <int>C_UdpInDatagrams] += 1
            self._skb_put(e)
            total += ln
            n += 1
        if n:
            L.u_read_n += n
            L.u_read_bytes += total
            self._ev(when, -1, li, EV_READ, <uint32_t>L.u_qbytes, <uint32_t>total, 0, 0, 255, 0)
        return total

    cdef void _uread_arm(self, int32_t li) noexcept nogil:
        """Next read of the rate / chunk readers of a UDP socket (only while
        datagrams wait); origin u_t0 (the socket's first datagram)."""
        cdef LSock* L = &self.ls[li]
        cdef int64_t need, t, kk
        if L.heap_pos >= 0 or L.uq_head < 0:
            return
        if L.rd_kind == RD_RATE:
            # when the byte allowance covers the head datagram
            need = L.u_read_bytes + self.skb[L.uq_head].seq
            t = L.u_t0 + (need * L.rd_per_ns + L.rd_bytes - 1) // L.rd_bytes
            self._tarm(TK_UREAD, li, t if t > self.now else self.now)
        elif L.rd_kind == RD_CHUNK:
            kk = (self.now - L.u_t0 + L.rd_per_ns - 1) // L.rd_per_ns
            if kk < L.u_read_cur:
                kk = L.u_read_cur
            self._tarm(TK_UREAD, li, L.u_t0 + kk * L.rd_per_ns)

    cdef void _ulog_arm(self, int32_t li) noexcept nogil:
        """Next read-log row for a UDP socket: rows with a client port /
        address filter name TCP connections and are skipped; relative times
        count from u_t0."""
        cdef LSock* L = &self.ls[li]
        cdef int32_t j = L.u_read_cur
        cdef int64_t t
        while j < L.log_n and (L.log_port[j] >= 0 or (L.log_rel[j] & 2)):
            j += 1
        L.u_read_cur = j
        if j >= L.log_n:
            return
        t = L.log_t[j] + (L.u_t0 if (L.log_rel[j] & 1) else 0)
        self._tarm(TK_UREAD, li, t if t > self.now else self.now)

    cdef void _uread_timer(self, int32_t li, int64_t when) noexcept nogil:
        cdef LSock* L = &self.ls[li]
        cdef int64_t allow
        if L.rd_kind == RD_RATE:
            allow = (when - L.u_t0) * L.rd_bytes // L.rd_per_ns - L.u_read_bytes
            self._udp_read(li, allow, False, when)
            self._uread_arm(li)
        elif L.rd_kind == RD_CHUNK:
            L.u_read_cur = <int32_t>((when - L.u_t0) // L.rd_per_ns) + 1
            self._udp_read(li, L.rd_bytes, True, when)
            self._uread_arm(li)
        elif L.rd_kind == RD_LOG:
            self._udp_read(li, L.log_bytes[L.u_read_cur], True, when)
            L.u_read_cur += 1
            self._ulog_arm(li)

    cdef void _udp_rcv(self, Py_ssize_t i, uint8_t st, uint32_t fl, bint v6, uint64_t s0,
                       uint64_t s1, uint64_t d0, uint64_t d1) noexcept nogil:
        """udp.c __udp4_lib_rcv / udp6 __udp6_lib_rcv (unicast)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef int32_t li
        cdef int cin = <int>C_Udp6InErrors if v6 else <int>C_UdpInErrors
        cdef int64_t q
        if st != 0:                     # cannot pull 8 bytes / bad length
            self.ctr[cin] += 1
            self._drop(i, st)
            return
        if not (fl & PF_L4):
            v.verdict[i] = V_UNMODELLED
            v.reason[i] = DR_HDR_TRUNC
            return
        li = self._lookup_listener(v6, d0, d1, c.dport[i], s0, s1, c.sport[i], True)
        if self.csum_err[i]:
            # checked before NoPorts, and in udp_queue_rcv_one_skb for a socket
            self.ctr[<int>C_Udp6InCsumErrors if v6 else <int>C_UdpInCsumErrors] += 1
            self.ctr[cin] += 1
            self._drop(i, DR_UDP_CSUM)
            v.listener[i] = <int16_t>li
            return
        if li >= 0:
            v.verdict[i] = V_DELIVERED
            v.listener[i] = <int16_t>li
            v.sock_state[i] = TS_CLOSE           # ss shows UNCONN
            self._udp_enqueue(i, li, v6)
            return
        self.ctr[<int>C_Udp6NoPorts if v6 else <int>C_UdpNoPorts] += 1
        self._drop(i, DR_NO_SOCKET)
        if v6:
            self._icmp6_port_unreach(i, s0, s1)
            return
        # icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH)
        if self._icmp_xmit_allowed(3, s0, s1, self._is_local(s0, s1, c.saddr + 16 * i)):
            self.ctr[<int>C_IcmpOutMsgs] += 1
            self.ctr[<int>C_IcmpOutDestUnreachs] += 1
            # __icmp_send: IP header + ICMP header + the offending datagram from
            # its IP header (the skb __udp4_lib_rcv trimmed to the UDP length),
            # at most 576 - 20 - 8 bytes (room = min(dst_mtu, 576)); no reply
            # IP options (__ip_options_echo) modelled
            q = <int64_t>c.ip_len[i] - c.l4_len[i] + 8 + c.payload_len[i]
            self._ip_out(False, 28 + (q if q < 548 else 548))
            v.reply[i] = R_ICMP_PORT_UNREACH

    cdef bint _icmp6_dest_unreach(self, Py_ssize_t i, uint64_t s0, uint64_t s1, uint8_t code,
                                  int64_t q) noexcept nogil:
        """icmpv6_send(ICMPV6_DEST_UNREACH, code) for row i: _icmp6_err."""
        return self._icmp6_err(i, s0, s1, 1, q)

    cdef bint _icmp6_err(self, Py_ssize_t i, uint64_t s0, uint64_t s1, uint8_t type,
                         int64_t q) noexcept nogil:
        """icmpv6_send(type, ...) -> icmp6_send for row i (type 1 destination
        unreachable or 3 time exceeded), quoting q bytes of the offending
        packet from its IPv6 header: no reply to a multicast destination, a
        packet not for this host (pkt_type != PACKET_HOST) or the unspecified
        source; then the rate limits of the type; the reply is 40 + 8 +
        min(q, IPV6_MIN_MTU - 48) bytes, Icmp6OutMsgs and the type's
        counters (__ip6_make_skb -> icmpv6_msgs_out), OutRequests included
        (__ip6_make_skb).  True when sent."""
        cdef Batch* c = &self.b
        if c.daddr[16 * i] == 0xff or c.pkt_type[i] != PKTTYPE_HOST:
            return False
        if s0 == 0 and s1 == 0:
            return False
        if not self._icmp6_xmit_allowed(type, s0, s1, self._is_local(s0, s1, c.saddr + 16 * i)):
            return False
        self.ctr[<int>C_Icmp6OutMsgs] += 1
        if type == 1:
            self.ctr[<int>C_Icmp6OutDestUnreachs] += 1
            self.ctr[<int>C_Icmp6OutType1] += 1
        else:
            self.ctr[<int>C_Icmp6OutTimeExcds] += 1
            self.ctr[<int>C_Icmp6OutType3] += 1
        self._ip_out(True, 48 + (q if q < 1232 else 1232))
        return True

    cdef void _icmp6_port_unreach(self, Py_ssize_t i, uint64_t s0, uint64_t s1) noexcept nogil:
        """__udp6_lib_rcv -> icmpv6_send(ICMPV6_DEST_UNREACH,
        ICMPV6_PORT_UNREACH) -> icmp6_send: nothing for a multicast
        destination or a packet not for this host (pkt_type != PACKET_HOST),
        nor for an unspecified source (a multicast source never gets here:
        ip6_rcv_core drops it); then the rate limits of type 1.  The reply:
        IPv6 header + ICMPv6 header + the offending packet from its IPv6
        header (extension headers included; the UDP part trimmed to the UDP
        length by __udp6_lib_rcv), at most IPV6_MIN_MTU - 40 - 8 = 1232
        bytes.  Icmp6OutMsgs + Icmp6OutDestUnreachs (__ip6_make_skb)."""
        cdef Batch* c = &self.b
        cdef int64_t q = <int64_t>c.ip_len[i] - c.l4_len[i] + 8 + c.payload_len[i]
        if self._icmp6_dest_unreach(i, s0, s1, 4, q):
            self.vo.reply[i] = R_ICMP_PORT_UNREACH

    # --- TCP ----------------------------------------------------------------
    cdef void _send_reset(self, Py_ssize_t i) noexcept nogil:
        """tcp_v4_send_reset / tcp_v6_send_reset (sheet 1.4 item 7)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint16_t f = c.tcp_flags[i]
        if f & TH_RST:
            return
        self.ctr[<int>C_TcpOutSegs] += 1
        self.ctr[<int>C_TcpOutRsts] += 1
        # tcp_v4_send_reset / tcp_v6_send_reset (tsval = tsecr = 0): a bare
        # 20-byte header, options only for MD5/AO (not modelled)
        self._tcp_out((c.flags[i] & PF_IPV6) != 0, 0)
        v.reply[i] = R_RST
        v.reply_win[i] = 0
        if f & TH_ACK:
            v.reply_seq[i] = c.tcp_ack[i]
            v.reply_ack[i] = 0
            v.reply_flags[i] = TH_RST
        else:
            v.reply_seq[i] = 0
            v.reply_ack[i] = (c.tcp_seq[i] + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0)
                              + c.payload_len[i])
            v.reply_flags[i] = TH_RST | TH_ACK

    cdef void _tcp_rcv(self, Py_ssize_t i, uint8_t st, uint32_t fl, bint v6, uint64_t s0,
                       uint64_t s1, uint64_t d0, uint64_t d1) noexcept nogil:
        """tcp_v4_rcv / tcp_v6_rcv."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint16_t sp = c.sport[i], dp = c.dport[i]
        cdef uint64_t h
        cdef int32_t s, li
        cdef Sock* k
        if c.pkt_type[i] != PKTTYPE_HOST:
            self._drop(i, DR_NOT_SPECIFIED)     # broadcast / multicast frame
            return
        self.ctr[<int>C_TcpInSegs] += 1              # "count it even if it's bad"
        if st == DR_PKT_TOO_SMALL:              # doff < 5
            self.ctr[<int>C_TcpInErrs] += 1
            self._drop(i, st)
            return
        if st != 0:                             # < 20 bytes, cannot pull doff*4
            self._drop(i, st)
            return
        if not (fl & PF_L4):
            v.verdict[i] = V_UNMODELLED         # TCP header not captured
            v.reason[i] = DR_HDR_TRUNC
            return
        if self.csum_err[i]:
            self.ctr[<int>C_TcpInCsumErrors] += 1
            self.ctr[<int>C_TcpInErrs] += 1
            self._drop(i, DR_TCP_CSUM)
            return
        if self.hrow[i & (HRING - 1)] == i:
            h = self.hval[i & (HRING - 1)]
        else:
            h = tuple_hash(self.dm.seed, d0, d1, s0, s1, dp, sp)
        s = demux_find(&self.dm, d0, d1, s0, s1, dp, sp, <uint32_t>h)
        if s >= 0:
            k = &self.dm.socks[s]
            v.conn_id[i] = k.conn_id
            v.listener[i] = <int16_t>k.listener
            if k.state == TS_NEW_SYN_RECV:
                self._check_req(i, s, v6, s0, s1, d0, d1, h)
            elif k.state == TS_TIME_WAIT:
                self._tw_rcv(i, s, v6, s0, s1, d0, d1, h)
            else:
                self._full_rcv(i, s)
            return
        li = self._lookup_listener(v6, d0, d1, dp, s0, s1, sp)
        if li < 0:
            self._drop(i, DR_NO_SOCKET)
            self._send_reset(i)
            return
        self._listen_rcv(i, li, v6, s0, s1, d0, d1, h)

    cdef void _listen_rcv(self, Py_ssize_t i, int32_t li, bint v6, uint64_t s0, uint64_t s1,
                          uint64_t d0, uint64_t d1, uint64_t h) noexcept nogil:
        """tcp_v4_do_rcv for a LISTEN socket."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint16_t f = c.tcp_flags[i]
        cdef LSock* L = &self.ls[li]
        cdef int r
        v.listener[i] = <int16_t>li
        v.sock_state[i] = TS_LISTEN
        v.conn_id[i] = -1
        if not (f & TH_SYN):
            # tcp_v4_cookie_check -> cookie_v4_check
            if self.syncookies and (f & TH_ACK) and not (f & TH_RST) \
                    and not self._synq_no_recent_overflow(L, self.now):
                r = self._cookie_check(i, li, v6, s0, s1, d0, d1, h)
                if r >= 0:
                    return          # child created, or dropped (NO_SOCKET)
        # tcp_rcv_state_process, case TCP_LISTEN
        if f & TH_ACK:
            self._drop(i, DR_TCP_FLAGS)
            self._send_reset(i)
            return
        if f & TH_RST:
            self._drop(i, DR_TCP_RESET)
            return
        if f & TH_SYN:
            if f & TH_FIN:
                self._drop(i, DR_TCP_FLAGS)
                return
            self._conn_request(i, li, v6, s0, s1, d0, d1, h)
            return
        self._drop(i, DR_TCP_FLAGS)

    cdef inline void _listendrop(self, LSock* L) noexcept nogil:
        self.ctr[<int>C_TcpExtListenDrops] += 1
        L.drops += 1

    cdef void _conn_request(self, Py_ssize_t i, int32_t li, bint v6, uint64_t s0,
                            uint64_t s1, uint64_t d0, uint64_t d1, uint64_t h) noexcept nogil:
        """tcp_input.c: tcp_conn_request() (sheet 4.2)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef LSock* L = &self.ls[li]
        cdef uint32_t fl = c.flags[i]
        cdef bint want_cookie = False
        cdef bint ts_ok, ws_ok, sack_ok
        cdef uint16_t peer_mss
        cdef uint32_t isn, win
        cdef int32_t s
        cdef Sock* k
        cdef Cookie* ck
        cdef uint64_t slot
        cdef int64_t now = self.now
        if (self.syncookies == 2 or self._synq_full(L)) and self.tw_isn == 0:
            # (a SYN that reuses a TIME_WAIT 4-tuple, tcp_tw_isn != 0, skips
            # the SYN-queue / syncookie test and the 3/4 rule)
            # tcp_syn_flood_action
            if self.syncookies:
                self.ctr[<int>C_TcpExtTCPReqQFullDoCookies] += 1
                L.reqqfull_cookies += 1
                want_cookie = True
            else:
                self.ctr[<int>C_TcpExtTCPReqQFullDrop] += 1
                L.reqqfull_drop += 1
                self._listendrop(L)
                self._drop(i, DR_TCP_LISTEN_OVERFLOW)
                return
        if self._acceptq_full(L):
            self.ctr[<int>C_TcpExtListenOverflows] += 1
            L.overflows += 1
            self._listendrop(L)
            self._drop(i, DR_TCP_LISTEN_OVERFLOW)
            return
        # tcp_parse_options (tcp_clear_options for a cookie without timestamps)
        ts_ok = (fl & PF_TCP_TS) != 0 and self.tcp_timestamps != 0
        ws_ok = (fl & PF_TCP_WSCALE) != 0 and self.tcp_window_scaling != 0
        sack_ok = (fl & PF_TCP_SACKOK) != 0 and self.tcp_sack != 0
        peer_mss = c.tcp_mss[i] if (fl & PF_TCP_MSS) and c.tcp_mss[i] != 0 else TCP_MSS_DEFAULT
        if want_cookie and not ts_ok:
            ws_ok = False
            sack_ok = False
        if not want_cookie and self.syncookies == 0 and self.tw_isn == 0 and \
                (self.max_syn_backlog - L.qlen < (self.max_syn_backlog >> 2)):
            self._listendrop(L)                 # pr_drop_req, drop_and_release
            self._drop(i, DR_TCP_LISTEN_OVERFLOW)
            return
        win = L.win_ts if ts_ok else L.win_nots
        isn = self.tw_isn if self.tw_isn else self._rand32()
        v.verdict[i] = V_DELIVERED
        v.reply_seq[i] = isn
        v.reply_ack[i] = c.tcp_seq[i] + 1
        v.reply_win[i] = <uint16_t>(win if win < 65535 else 65535)
        v.reply_flags[i] = TH_SYN | TH_ACK
        v.reply_wscale[i] = L.wscale if ws_ok else 255
        v.reply_mss[i] = L.advmss
        self.ctr[<int>C_TcpOutSegs] += 1
        self._tcp_out(v6, self._synack_optlen((SKF_WSCALE_OK if ws_ok else 0)
                                              | (SKF_TSTAMP_OK if ts_ok else 0)
                                              | (SKF_SACK_OK if sack_ok else 0)))
        L.synacks += 1
        if want_cookie:
            # cookie_init_sequence: SyncookiesSent; tcp_synq_overflow
            self.ctr[<int>C_TcpExtSyncookiesSent] += 1
            L.cookies_sent += 1
            self._synq_overflow(L, now)
            slot = h & self.ck_mask
            ck = &self.ck[slot]
            if ck.used and ck.fp != h:
                self.div[DV_COOKIE_EVICT] += 1
            ck.fp = h
            ck.listener = li
            ck.issued_ns = now
            ck.conn_id = self.next_conn
            self.next_conn += 1
            ck.isn = isn
            ck.host_isn = 0
            ck.host_known = 0
            ck.mss = self._cookie_mss(v6, peer_mss)
            ck.used = 1
            v.reply[i] = R_SYNACK_COOKIE
            v.sock_state[i] = TS_LISTEN
            v.conn_id[i] = ck.conn_id
            return
        # request sock: inet_csk_reqsk_queue_hash_add
        s = demux_new(&self.dm)
        k = &self.dm.socks[s]
        k.la0 = d0
        k.la1 = d1
        k.ra0 = s0
        k.ra1 = s1
        k.lport = c.dport[i]
        k.rport = c.sport[i]
        k.hash = <uint32_t>h
        k.state = TS_NEW_SYN_RECV
        k.family = 6 if v6 else 4
        k.flags = ((SKF_WSCALE_OK if ws_ok else 0) | (SKF_TSTAMP_OK if ts_ok else 0)
                   | (SKF_SACK_OK if sack_ok else 0))
        k.rcv_wscale = L.wscale if ws_ok else 0
        k.snd_wscale = c.tcp_wscale[i] if ws_ok else 0
        k.peer_mss = peer_mss
        k.listener = li
        k.conn_id = self.next_conn
        self.next_conn += 1
        k.rcv_isn = c.tcp_seq[i]
        k.model_isn = isn
        k.snt_isn = isn
        k.rsk_rcv_wnd = win
        k.ts_recent = c.tcp_tsval[i] if ts_ok else 0     # req->ts_recent
        k.created_ns = now
        k.synack_ns = now
        demux_insert(&self.dm, s)
        L.qlen += 1
        L.young += 1
        if L.qlen > L.max_qlen_seen:
            L.max_qlen_seen = L.qlen
        self._tarm(TK_REQ, s, now + self.timeout_init_ns)
        v.reply[i] = R_SYNACK
        v.sock_state[i] = TS_NEW_SYN_RECV
        v.conn_id[i] = k.conn_id

    cdef int _cookie_check(self, Py_ssize_t i, int32_t li, bint v6, uint64_t s0,
                           uint64_t s1, uint64_t d0, uint64_t d1, uint64_t h) noexcept nogil:
        """syncookies.c cookie_v4_check: -1 = not a valid cookie (LISTEN path
        continues), 0 = handled (child created or dropped)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef LSock* L = &self.ls[li]
        cdef Cookie* ck = &self.ck[h & self.ck_mask]
        cdef uint32_t want = c.tcp_ack[i] - 1
        cdef bint valid
        cdef int64_t age
        cdef int32_t s
        cdef Sock* k
        valid = ck.used and ck.listener == li and ck.fp == h
        if valid:
            # check_tcp_syn_cookie: (count - cookie count) < MAX_SYNCOOKIE_AGE
            age = self.now // self.cookie_period_ns - ck.issued_ns // self.cookie_period_ns
            valid = age >= 0 and age < self.max_cookie_age
        if valid:
            if ck.host_known:
                valid = want == ck.host_isn
            elif want != ck.isn:
                self.div[DV_COOKIE_ASSUMED] += 1
        if not valid:
            self.ctr[<int>C_TcpExtSyncookiesFailed] += 1
            L.cookies_failed += 1
            return -1
        self.ctr[<int>C_TcpExtSyncookiesRecv] += 1
        L.cookies_recv += 1
        v.conn_id[i] = ck.conn_id
        # tcp_get_cookie_sock -> syn_recv_sock
        if self._acceptq_full(L):
            self.ctr[<int>C_TcpExtListenOverflows] += 1
            L.overflows += 1
            self._listendrop(L)
            self._drop(i, DR_NO_SOCKET)
            return 0
        s = demux_new(&self.dm)
        k = &self.dm.socks[s]
        k.la0 = d0
        k.la1 = d1
        k.ra0 = s0
        k.ra1 = s1
        k.lport = c.dport[i]
        k.rport = c.sport[i]
        k.hash = <uint32_t>h
        k.family = 6 if v6 else 4
        k.listener = li
        k.conn_id = ck.conn_id
        k.rcv_isn = c.tcp_seq[i] - 1
        k.snt_isn = want
        k.model_isn = ck.isn
        k.peer_mss = ck.mss
        k.created_ns = self.now
        k.synack_ns = -1                # no request sock: no SYN-ACK RTT sample
        demux_insert(&self.dm, s)
        self._make_child(i, li, s)
        return 0

    cdef void _make_child(self, Py_ssize_t i, int32_t li, int32_t s) noexcept nogil:
        """tcp_create_openreq_child (PassiveOpens) + accept queue + ESTABLISHED."""
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[li]
        self.ctr[<int>C_TcpPassiveOpens] += 1
        L.passive_opens += 1
        k.state = TS_ESTABLISHED
        self.ctr[<int>C_TcpCurrEstab] += 1
        self._child_init(i, li, s)
        self.vo.verdict[i] = V_DELIVERED
        self.vo.sock_state[i] = TS_ESTABLISHED
        self.vo.conn_id[i] = k.conn_id
        self._acceptq_add(li, s, self.now)

    cdef inline bint _oow_rate_limited(self, Sock* k) noexcept nogil:
        # tcp_input.c __tcp_oow_rate_limited (tcp_invalid_ratelimit)
        cdef int64_t el
        if k.flags & SKF_OOW_SET:
            el = self.now - k.last_oow_ns
            if el >= 0 and el < self.invalid_ratelimit_ns:
                self.ctr[<int>C_TcpExtTCPACKSkippedSynRecv] += 1
                return True
        k.last_oow_ns = self.now
        k.flags |= SKF_OOW_SET
        return False

    cdef void _check_req(self, Py_ssize_t i, int32_t s, bint v6, uint64_t s0, uint64_t s1,
                         uint64_t d0, uint64_t d1, uint64_t h) noexcept nogil:
        """tcp_minisocks.c: tcp_check_req() (sheet 4.4), PAWS and the TSecr check
        included."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef Sock* k = &self.dm.socks[s]
        cdef int32_t li = k.listener
        cdef LSock* L = &self.ls[li]
        cdef uint16_t f = c.tcp_flags[i]
        cdef uint16_t flg = f & (TH_RST | TH_SYN | TH_ACK)
        cdef uint32_t seq = c.tcp_seq[i]
        cdef uint32_t end_seq = seq + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0) + c.payload_len[i]
        cdef uint32_t rcv_nxt = k.rcv_isn + 1
        cdef bint saw_ts, paws_rej = False, tsecr_rej = False
        cdef uint32_t tsecr
        cdef int64_t now_s = self.now // 1000000000
        v.sock_state[i] = TS_NEW_SYN_RECV
        # tcp_check_req: tcp_parse_options(estab=0): saw_tstamp needs only the
        # tcp_timestamps sysctl; TSecr checked against snt_tsval_first/_last
        # when tstamp_ok; ts_recent_stamp estimated as now - reqsk_timeout(req,
        # TCP_RTO_MAX) / HZ; paws_reject = tcp_paws_reject(&tmp_opt, th->rst)
        saw_ts = (c.flags[i] & PF_TCP_TS) != 0 and self.tcp_timestamps != 0
        if saw_ts:
            tsecr = c.tcp_tsecr[i]
            if tsecr != 0 and (k.flags & SKF_TSTAMP_OK) and self.paws_tsecr:
                if k.tsv_known:
                    # between(tsecr, snt_tsval_first, snt_tsval_last)
                    tsecr_rej = (k.tsv_last - k.tsv_first) < (tsecr - k.tsv_first)
                else:
                    # open loop: the host's SYN-ACK TSval is unknown (ts_off)
                    self.div[DV_TSECR_ASSUMED] += 1
            paws_rej = tcp_paws_reject(k.ts_recent,
                                       now_s - self._reqsk_timeout(k) // 1000000000,
                                       c.tcp_tsval[i], (f & TH_RST) != 0, now_s)
        if seq == k.rcv_isn and flg == TH_SYN and not paws_rej:
            # retransmitted SYN
            self._drop(i, DR_NOT_SPECIFIED)
            if not self._oow_rate_limited(k):
                self._rtx_synack(k, self.now, False)
                v.reply[i] = R_SYNACK
                v.reply_seq[i] = k.snt_isn
                v.reply_ack[i] = rcv_nxt
                v.reply_win[i] = self._synack_win(L, k)
                v.reply_flags[i] = TH_SYN | TH_ACK
                v.reply_wscale[i] = k.rcv_wscale if (k.flags & SKF_WSCALE_OK) else 255
                v.reply_mss[i] = L.advmss
                # mod_timer_pending(now + reqsk_timeout(req))
                if k.heap_pos >= 0:
                    self._tarm(TK_REQ, s, self.now + self._reqsk_timeout(k))
            return
        if flg & TH_ACK:
            if c.tcp_ack[i] != k.snt_isn + 1:
                if k.flags & SKF_HOST_ISN:
                    # return sk: the listener handles it (cookie check, RST)
                    v.conn_id[i] = -1
                    self._listen_rcv(i, li, v6, s0, s1, d0, d1, h)
                    return
                # open loop: the ACK acknowledges the real host's ISN
                self.div[DV_ACK_ASSUMED] += 1
        if paws_rej or tsecr_rej or \
                not tcp_in_window(seq, end_seq, rcv_nxt, rcv_nxt + k.rsk_rcv_wnd):
            if paws_rej:
                self.ctr[<int>C_TcpExtPAWSEstab] += 1
                self._drop(i, DR_TCP_RFC7323_PAWS)
            elif tsecr_rej:
                self.ctr[<int>C_TcpExtTSEcrRejected] += 1
                self._drop(i, DR_TCP_RFC7323_TSECR)
            else:
                self._drop(i, DR_TCP_OVERWINDOW)
            if not (flg & TH_RST) and not self._oow_rate_limited(k):
                # tcp_v4_reqsk_send_ack -> tcp_v4_send_ack: the timestamp
                # option iff tsecr = req->ts_recent != 0 (tcp_v6_send_response alike)
                self.ctr[<int>C_TcpOutSegs] += 1
                self._tcp_out(v6, 12 if k.ts_recent != 0 else 0)
                v.reply[i] = R_ACK
                v.reply_seq[i] = k.snt_isn + 1
                v.reply_ack[i] = rcv_nxt
                v.reply_win[i] = <uint16_t>(k.rsk_rcv_wnd >> k.rcv_wscale)
                v.reply_flags[i] = TH_ACK
            return
        # In sequence, PAWS is OK: req->ts_recent = rcv_tsval
        if saw_ts and not seq_after(seq, rcv_nxt):
            k.ts_recent = c.tcp_tsval[i]
        if seq == k.rcv_isn:
            flg &= ~TH_SYN
        if flg & (TH_RST | TH_SYN):
            self.ctr[<int>C_TcpAttemptFails] += 1
            self._drop(i, DR_TCP_RESET if (flg & TH_RST) else DR_TCP_FLAGS)
            self._embryonic_reset(i, s)
            return
        if not (flg & TH_ACK):
            self._drop(i, DR_NOT_SPECIFIED)
            return
        # tcp_v4_syn_recv_sock
        if self._acceptq_full(L):
            self.ctr[<int>C_TcpExtListenOverflows] += 1
            L.overflows += 1
            self._listendrop(L)
            self._drop(i, DR_TCP_LISTEN_OVERFLOW)
            if not self.abort_on_overflow:
                k.flags |= SKF_ACKED
                return
            self._embryonic_reset(i, s)
            return
        # inet_csk_complete_hashdance: the child takes the request's place
        L.qlen -= 1
        if k.num_timeout == 0:
            L.young -= 1
        self._tcancel(TK_REQ, s)
        self._make_child(i, li, s)

    cdef void _embryonic_reset(self, Py_ssize_t i, int32_t s) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        self._send_reset(i)                 # not for a RST
        self.ctr[<int>C_TcpExtEmbryonicRsts] += 1
        L.embryonic_rsts += 1
        self.vo.sock_state[i] = TS_NONE
        self._req_unlink(s)

    # ------------------------------------------------------------------
    # full sockets: receive path (sheet 5), teardown, TIME_WAIT (sheet 8.3)
    # ------------------------------------------------------------------
    cdef void _child_init(self, Py_ssize_t i, int32_t li, int32_t s) noexcept nogil:
        """tcp_create_openreq_child + tcp_init_buffer_space + tcp_initialize_rcv_mss
        (sheet 5.3)."""
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[li]
        cdef ConnRec* r
        cdef int64_t maxwin, clamp, adv, mss_cache, hint
        cdef uint64_t h
        cdef PendDiv* pd
        k.rcv_nxt = self.b.tcp_seq[i]
        k.rcv_wup = k.rcv_nxt
        k.copied_seq = k.rcv_nxt
        k.snd_una = k.snt_isn + 1
        k.snd_nxt = k.snt_isn + 1
        k.rcvbuf = L.rcvbuf
        k.rmem_alloc = 0
        k.advmss = L.advmss
        k.xflags = XF_LOCKED if L.rcvbuf_locked else 0
        if k.flags & SKF_HOST_ISN:
            k.xflags |= XF_HOST_SEEN
        if k.flags & SKF_TSTAMP_OK:
            # tcp_create_openreq_child: ts_recent = req->ts_recent (tcp_check_req
            # stored the ACK's TSval when !after(seq, rcv_nxt), cookie_v4_check
            # takes the ACK's), ts_recent_stamp = ktime_get_seconds(); the
            # child's tcp_replace_ts_recent for this ACK stores the same value
            k.xflags |= XF_TS
            if (self.b.flags[i] & PF_TCP_TS) and not seq_after(self.b.tcp_seq[i], k.rcv_isn + 1):
                k.ts_recent = self.b.tcp_tsval[i]     # else the SYN's (request sock)
            k.ts_stamp = self.now // 1000000000
        # tcp_init_wl(newtp, treq->rcv_isn)
        k.snd_wl1 = k.rcv_isn
        # icsk_rto after the handshake's RTT sample (tcp_synack_rtt_meas ->
        # tcp_rtt_estimator / tcp_set_rto, first sample m: srtt = m, rttvar =
        # max(2m, tcp_rto_min)): m + max(2m, 200 ms); TCP_TIMEOUT_INIT if no
        # SYN-ACK time is known (cookies).  Later RTT samples are not modelled.
        if k.synack_ns >= 0 and self.now >= k.synack_ns and k.num_timeout == 0:
            hint = (self.now - k.synack_ns) // 1000000
            k.rto_ms = <uint32_t>(hint + (2 * hint if 2 * hint > 200 else 200))
            if k.rto_ms > 120000:
                k.rto_ms = 120000
        else:
            k.rto_ms = 1000
        if not (k.flags & SKF_WSCALE_OK):
            k.rcv_wscale = 0
            k.snd_wscale = 0
        # req->rsk_rcv_wnd; cookie children: the listener's SYN-ACK window
        if k.rsk_rcv_wnd == 0:
            k.rsk_rcv_wnd = L.win_ts if (k.flags & SKF_TSTAMP_OK) else L.win_nots
        k.rcv_wnd = k.rsk_rcv_wnd
        k.rcv_ssthresh = k.rcv_wnd
        # the child is a clone of the listener: TCP_DEFAULT_SCALING_RATIO
        # (or the engine's fixed ratio)
        k.scaling_ratio = <uint8_t>self.scaling_ratio
        # rsk_window_clamp (tcp_openreq_init_rwin / tcp_select_initial_window)
        maxwin = self._win_from_space(k, k.rcvbuf)
        clamp = maxwin if L.rcvbuf_locked else (<int64_t>65535 << 14)
        if clamp > (<int64_t>65535 << k.rcv_wscale):
            clamp = <int64_t>65535 << k.rcv_wscale
        # tcp_init_buffer_space (advmss per _adv_mss: 6.16+ already without
        # the timestamp option)
        adv = self._adv_mss(k, True)
        if clamp >= maxwin:
            clamp = maxwin
            if self.tcp_app_win and maxwin > 4 * adv:
                clamp = maxwin - (maxwin >> self.tcp_app_win)
                if clamp < 4 * adv:
                    clamp = 4 * adv
        if self.tcp_app_win and clamp > 2 * adv and clamp + adv > maxwin:
            clamp = maxwin - adv
            if clamp < 2 * adv:
                clamp = 2 * adv
        k.window_clamp = <uint32_t>clamp
        if k.rcv_ssthresh > k.window_clamp:
            k.rcv_ssthresh = k.window_clamp
        # tcp_initialize_rcv_mss: min(advmss, mss_cache, rcv_wnd/2, 536), >= 88
        mss_cache = k.peer_mss - (12 if (k.flags & SKF_TSTAMP_OK) else 0)
        hint = adv if adv < mss_cache else mss_cache
        if hint > k.rcv_wnd // 2:
            hint = k.rcv_wnd // 2
        if hint > TCP_MSS_DEFAULT:
            hint = TCP_MSS_DEFAULT
        if hint < TCP_MIN_MSS:
            hint = TCP_MIN_MSS
        k.rcv_mss = <uint16_t>hint
        # tcp_init_buffer_space: rcvq_space = min3(rcv_ssthresh, rcv_wnd,
        # TCP_INIT_CWND * advmss), measured from now
        hint = TCP_INIT_CWND * self._adv_mss(k, True)
        if hint > k.rcv_ssthresh:
            hint = k.rcv_ssthresh
        if hint > k.rcv_wnd:
            hint = k.rcv_wnd
        k.rcvq_space = hint
        # tcp_rcv_state_process (SYN_RECV): tp->advmss -= TCPOLEN_TSTAMP_ALIGNED
        k.advmss = <uint16_t>self._adv_mss(k, False)
        if k.xflags & XF_TS:
            k.at_flags |= AT_ADVMSS_TS
        k.rcvq_seq = k.copied_seq
        k.rcvq_time = self.now
        k.mstamp = self.now
        # the host's TS clock from its captured SYN-ACK (tcp_rsk(req)->snt_tsval_last)
        if k.tsv_known and (k.xflags & XF_TS) and k.synack_ns >= 0:
            k.host_tsval = k.tsv_last
            k.ts_tick_lo = k.synack_ns - 1000000
            k.ts_tick_hi = k.synack_ns
            k.at_flags |= AT_HOST_TS
        # tcp_create_openreq_child: max_window = snd_wnd (the handshake ACK's)
        k.max_window = <uint32_t>self.b.tcp_win[i] << k.snd_wscale
        k.bytes_acked = 0
        k.quick = 0
        k.read_total = 0
        k.rq_bytes = 0
        k.read_cur = 0
        # connection record
        k.rec = self._rec_new()
        r = &self.rec[k.rec]
        memset(r, 0, sizeof(ConnRec))
        r.link = -1
        r.rseq = self.rec_seq
        self.rec_seq += 1
        h = tuple_hash(self.dm.seed, k.la0, k.la1, k.ra0, k.ra1, k.lport, k.rport)
        pd = &self.pdv[h & (PDV_SLOTS - 1)]
        if pd.n and pd.fp == h:
            if self.now - pd.when <= PDV_MAX_AGE_NS:
                r.divs += pd.n
            pd.n = 0
        r.conn_id = k.conn_id
        r.la0 = k.la0
        r.la1 = k.la1
        r.ra0 = k.ra0
        r.ra1 = k.ra1
        r.lport = k.lport
        r.rport = k.rport
        r.listener = li
        r.family = k.family
        r.state = TS_ESTABLISHED
        r.start_ns = self.now
        r.end_ns = -1
        r.states = (<uint32_t>1 << TS_ESTABLISHED) | (<uint32_t>1 << TS_SYN_RECV)
        r.req_ns = k.created_ns
        r.acq_ns = -1
        r.accepted_ns = -1
        r.pkts_in = 1                   # the handshake-completing ACK

    cdef inline int64_t _truesize(self, uint32_t length) noexcept nogil:
        return ((<int64_t>length * self.tsz_mul) >> 8) + self.tsz_add

    cdef inline int64_t _win_from_space(self, Sock* k, int64_t space) noexcept nogil:
        # include/net/tcp.h tcp_win_from_space (s64: space may be negative),
        # with the socket's tp->scaling_ratio
        return (space * k.scaling_ratio) >> 8

    cdef inline int64_t _space_from_win(self, Sock* k, int64_t win) noexcept nogil:
        # include/net/tcp.h __tcp_space_from_win: ((u64)win << 8) / scaling_ratio
        return (win << 8) // k.scaling_ratio

    # --- receive-buffer autotuning (sheet 5.5) -----------------------------------
    cdef inline int64_t _adv_mss(self, Sock* k, bint at_init) noexcept nogil:
        # tp->advmss after the handshake: tcp_rcv_state_process (SYN_RECV)
        # takes TCPOLEN_TSTAMP_ALIGNED off for timestamp flows -- since the
        # 6.16 fix "initial tp->rcvq_space.space value for passive TS enabled
        # flows" before tcp_init_buffer_space, before that only afterwards
        # (k.advmss is the listener's until _child_init has run)
        if (k.xflags & XF_TS) and not (at_init and self.rcvbuf_variant == RB_PRE_616) \
                and not (k.at_flags & AT_ADVMSS_TS):
            return <int64_t>k.advmss - 12
        return k.advmss

    cdef void _set_window_clamp(self, Sock* k, int64_t val) noexcept nogil:
        """tcp.c tcp_set_window_clamp (val != 0; no SO_RESERVE_MEM)."""
        cdef uint32_t old = k.window_clamp, nw, ss
        if val < SOCK_MIN_RCVBUF_HALF:
            val = SOCK_MIN_RCVBUF_HALF
        nw = <uint32_t>val
        if nw == old:
            return
        k.window_clamp = nw
        if nw < old:
            # __tcp_adjust_rcv_ssthresh
            if k.rcv_ssthresh > nw:
                k.rcv_ssthresh = nw
        else:
            ss = k.rcv_wnd if k.rcv_wnd < nw else nw
            if ss > k.rcv_ssthresh:
                k.rcv_ssthresh = ss

    cdef void _measure_rcv_mss(self, Sock* k, uint32_t plen, int64_t ts) noexcept nogil:
        """tcp_input.c tcp_measure_rcv_mss, the full-size branch (len =
        skb->len: no GRO in a pcap; the small-segment last_seg_size branch is
        not modelled).  scaling_ratio = len * 256 / truesize with the
        engine's truesize model; window_clamp follows (profile: 6.12.y/6.18
        tcp_set_window_clamp, 7.x a plain assignment) and rcvq_space.space
        is capped to it ("tcp: adjust rcvq_space after updating scaling
        ratio")."""
        cdef int64_t val
        cdef uint8_t old
        if plen < k.rcv_mss:
            return
        if self.ratio_update and plen != k.rcv_mss and ts > 0:
            val = (<int64_t>plen << 8) // ts
            if val > 255:
                val = 255
            old = k.scaling_ratio
            k.scaling_ratio = <uint8_t>(val if val else 1)
            if old != k.scaling_ratio:
                val = self._win_from_space(k, k.rcvbuf)
                if self.clamp_setter:
                    self._set_window_clamp(k, val)
                else:
                    k.window_clamp = <uint32_t>val
                if <int64_t>k.window_clamp < k.rcvq_space:
                    k.rcvq_space = k.window_clamp
        k.rcv_mss = <uint16_t>(plen if plen < k.advmss else k.advmss)

    cdef void _rcv_rtt_update(self, Sock* k, int64_t sample, bint win_dep) noexcept nogil:
        """tcp_input.c tcp_rcv_rtt_update (rtt_us holds 8 x usec)."""
        cdef int64_t old = k.rtt_us, m
        if self.rcvbuf_variant == RB_PRE_616:
            if old:
                if not win_dep:
                    old += sample - (old >> 3)
                elif (sample << 3) < old:
                    old = sample << 3
            else:
                old = sample << 3
            k.rtt_us = <uint32_t>old
            return
        # 6.16+: a lower sample at once; a higher one smoothed, only with
        # timestamps and only while the receive queue is empty
        m = sample << 3
        if old == 0 or m < old:
            k.rtt_us = <uint32_t>m
            return
        if win_dep or k.rcv_nxt != k.copied_seq:
            return
        k.rtt_us = <uint32_t>(old - (old >> 3) + sample)

    cdef void _rcv_rtt_measure(self, Sock* k) noexcept nogil:
        """tcp_input.c tcp_rcv_rtt_measure: one sample per window of data
        (the time rcv_nxt takes to pass rcv_nxt + rcv_wnd of the last
        sample), on tp->tcp_mstamp."""
        cdef int64_t d
        if k.at_flags & AT_RTT_TIME:
            if seq_before(k.rcv_nxt, k.rtt_seq):
                return
            d = k.mstamp // 1000 - k.rtt_time // 1000
            if d <= 0:
                d = 1
            self._rcv_rtt_update(k, d, True)
        k.rtt_seq = k.rcv_nxt + k.rcv_wnd
        k.rtt_time = k.mstamp
        k.at_flags |= AT_RTT_TIME

    cdef void _rcv_rtt_measure_ts(self, Sock* k, Py_ssize_t i, uint32_t seq,
                                  uint32_t end_seq) noexcept nogil:
        """tcp_input.c tcp_rcv_rtt_measure_ts + tcp_rtt_tsopt_us: the TSecr
        of a full-sized segment against the host's TS clock, which the
        model only knows from captured host segments (the last TSval and
        its capture time; the ms phase is unknown, so the estimate can be
        1 ms short).  6.16+ skips zero deltas, 6.12 counts them as 1 ms."""
        cdef Batch* c = &self.b
        cdef uint32_t tsecr
        cdef int64_t d
        if not (k.xflags & XF_TS) or not (c.flags[i] & PF_TCP_TS):
            return
        tsecr = c.tcp_tsecr[i]
        if tsecr == k.rtt_last_tsecr:
            return
        k.rtt_last_tsecr = tsecr
        if <uint32_t>(end_seq - seq) < k.rcv_mss or not (k.at_flags & AT_HOST_TS):
            return
        d = <int32_t>(self._host_ts_now(k) - tsecr)
        if d < 0 or d >= 2147483647 // 1000:
            return
        if d == 0:
            if self.rcvbuf_variant != RB_PRE_616:
                return
            d = 1
        self._rcv_rtt_update(k, d * 1000, False)

    cdef void _host_ts_seen(self, Sock* k, uint32_t v) noexcept nogil:
        """A captured host TSval.  The host's TS clock (tcp_time_stamp_ts:
        monotonic ms + ts_offset) ticks every ms at a fixed phase of capture
        time: a value seen at t ticked in (t - 1 ms, t], the next value one
        ms after the previous one; the bracket (ts_tick_lo, ts_tick_hi] of
        the current value's tick is the intersection of all of them (reset
        when inconsistent, e.g. clock drift)."""
        cdef int64_t d, lo, hi
        if k.at_flags & AT_HOST_TS:
            d = <int32_t>(v - k.host_tsval)
            if 0 <= d < 1000000:
                lo = k.ts_tick_lo + d * 1000000
                hi = k.ts_tick_hi + d * 1000000
                if lo < self.now - 1000000:
                    lo = self.now - 1000000
                if hi > self.now:
                    hi = self.now
                if lo < hi:
                    k.ts_tick_lo = lo
                    k.ts_tick_hi = hi
                    k.host_tsval = v
                    return
        k.host_tsval = v
        k.ts_tick_lo = self.now - 1000000
        k.ts_tick_hi = self.now
        k.at_flags |= AT_HOST_TS

    cdef inline uint32_t _host_ts_now(self, Sock* k) noexcept nogil:
        # the host's TS clock now, its tick taken in the middle of the bracket
        cdef int64_t tick = k.ts_tick_lo + ((k.ts_tick_hi - k.ts_tick_lo + 1) >> 1)
        return k.host_tsval + <uint32_t>((self.now - tick) // 1000000)

    cdef void _rcvbuf_grow(self, Sock* k, int64_t newval) noexcept nogil:
        """tcp_input.c tcp_rcvbuf_grow (6.16+): rcvq_space.space = newval;
        rcvwin = 2 * newval plus the slow-start term (6.18 "fix too slow
        tcp_rcvbuf_grow() action"; 7.x scales it by rtt / tcp_rcvbuf_low_rtt
        below that RTT) plus the out-of-order span; sk_rcvbuf grows to
        tcp_space_from_win(rcvwin) capped at tcp_rmem[2], window_clamp
        follows."""
        cdef int64_t oldval = k.rcvq_space, rcvwin, grow, rcvbuf, rtt
        cdef int32_t e
        k.rcvq_space = newval
        if not self.moderate_rcvbuf or (k.xflags & XF_LOCKED):
            return
        rcvwin = newval << 1
        rtt = k.rtt_us >> 3
        if self.rcvbuf_variant == RB_7X and rtt < self.rcvbuf_low_rtt_us:
            grow = rcvwin * rtt // self.rcvbuf_low_rtt_us
        elif oldval > 0:
            grow = rcvwin * <uint32_t>(<uint32_t>newval - <uint32_t>oldval) // oldval
        else:
            grow = 0
        rcvwin = <uint32_t>(rcvwin + (grow << 1))
        if k.ofo_head >= 0:
            e = k.ofo_head
            while self.skb[e].next >= 0:
                e = self.skb[e].next
            rcvwin = <uint32_t>(rcvwin + <uint32_t>(self.skb[e].end_seq - k.rcv_nxt))
        rcvbuf = self._space_from_win(k, rcvwin)
        if rcvbuf > self.rmem2:
            rcvbuf = self.rmem2
        if rcvbuf > k.rcvbuf:
            k.rcvbuf = rcvbuf
            k.window_clamp = <uint32_t>self._win_from_space(k, rcvbuf)

    cdef inline void _rcv_space_adjust(self, Sock* k) noexcept nogil:
        """tcp_input.c tcp_rcv_space_adjust, after each skb the application
        copies (tcp_recvmsg_locked), on the time of the read: measured on
        6.18.44, rcvq_space.time is the read's, not the last segment's (a
        read 4.5 ms after the last segment restarted the measure, and the
        next read 285 us later, below rcv_rtt 313 us, did not).  6.16+
        subtracts what is still queued from copied."""
        cdef int64_t copied, rcvwin, grow, rcvbuf
        cdef int64_t stamp = self.now
        # tcp_stamp_us_delta on usec stamps (tcp_mstamp = ns / 1000)
        if k.rtt_us == 0 or stamp // 1000 - k.rcvq_time // 1000 < (k.rtt_us >> 3):
            return
        copied = <int32_t>(k.copied_seq - k.rcvq_seq)
        if self.rcvbuf_variant != RB_PRE_616:
            copied -= <int32_t>(k.rcv_nxt - k.copied_seq)
        if copied > k.rcvq_space:
            if self.rcvbuf_variant != RB_PRE_616:
                self._rcvbuf_grow(k, copied)
            else:
                if self.moderate_rcvbuf and not (k.xflags & XF_LOCKED):
                    rcvwin = (copied << 1) + 16 * self._adv_mss(k, False)
                    grow = rcvwin * (copied - k.rcvq_space) // k.rcvq_space \
                        if k.rcvq_space > 0 else 0
                    rcvwin += grow << 1
                    rcvbuf = self._space_from_win(k, rcvwin)
                    if rcvbuf > self.rmem2:
                        rcvbuf = self.rmem2
                    if rcvbuf > k.rcvbuf:
                        k.rcvbuf = rcvbuf
                        k.window_clamp = <uint32_t>self._win_from_space(k, rcvbuf)
                k.rcvq_space = copied
        k.rcvq_seq = k.copied_seq
        k.rcvq_time = stamp

    cdef inline uint32_t _rcv_window(self, Sock* k) noexcept nogil:
        # include/net/tcp.h tcp_receive_window
        cdef int32_t w = <int32_t>(k.rcv_wup + k.rcv_wnd - k.rcv_nxt)
        return <uint32_t>w if w > 0 else 0

    cdef inline bint _can_ingest(self, Sock* k, int64_t truesize, uint32_t length) noexcept nogil:
        # tcp_input.c tcp_can_ingest (profile variant, sheet 10.1)
        if self.ingest_variant == 1:
            return k.rmem_alloc + truesize <= k.rcvbuf
        if self.ingest_variant == 2:
            return k.rmem_alloc + length <= k.rcvbuf
        return k.rmem_alloc <= k.rcvbuf

    cdef int64_t _raw_window(self, Sock* k, bint commit) noexcept nogil:
        """tcp_output.c __tcp_select_window (tcp_shrink_window = 0, no memory
        pressure)."""
        cdef int64_t mss = k.rcv_mss
        cdef int64_t free_space = self._win_from_space(k, k.rcvbuf - k.rmem_alloc)
        cdef int64_t allowed = self._win_from_space(k, k.rcvbuf)
        cdef int64_t full = k.window_clamp if <int64_t>k.window_clamp < allowed else allowed
        cdef int64_t window
        cdef int64_t ws = k.rcv_wscale
        if mss > full:
            mss = full
            if mss <= 0:
                return 0
        if free_space < (full >> 1):
            if commit:
                k.quick = 0
            free_space = free_space & ~((<int64_t>1 << ws) - 1)
            if free_space < (allowed >> 4) or free_space < mss:
                return 0
        if free_space > k.rcv_ssthresh:
            free_space = k.rcv_ssthresh
        if ws:
            return (free_space + (<int64_t>1 << ws) - 1) & ~((<int64_t>1 << ws) - 1)
        window = k.rcv_wnd
        if window <= free_space - mss or window > free_space:
            window = (free_space // mss) * mss
        elif mss == full and free_space > window + (full >> 1):
            window = free_space
        return window

    cdef uint32_t _select_window(self, Sock* k, bint commit) noexcept nogil:
        """tcp_output.c tcp_select_window: the window field of an ACK.  With
        commit (an ACK is really sent) rcv_wnd / rcv_wup and the ZeroWindow
        counters are updated; without, a side-effect-free prediction."""
        cdef uint32_t old_win = k.rcv_wnd
        cdef int64_t cur, nw
        cdef int64_t ws = k.rcv_wscale
        cdef ConnRec* r = &self.rec[k.rec]
        if commit and k.rq_tail >= 0 and self.skb[k.rq_tail].acked_ns < 0:
            # the sender frees its original of these bytes when this ACK
            # reaches it (COALESCE_CLONE: the tail skb stops being cloned)
            self.skb[k.rq_tail].acked_ns = self.now
        if k.xflags & XF_NOMEM:
            if commit:
                k.rcv_wnd = 0
                k.rcv_wup = k.rcv_nxt
                self._zw_mark(k, r, 0)
            return 0
        cur = self._rcv_window(k)
        nw = self._raw_window(k, commit)
        if nw < cur:
            # never shrink the offered window
            if commit and nw == 0:
                self.ctr[<int>C_TcpExtTCPWantZeroWindowAdv] += 1
            nw = (cur + (<int64_t>1 << ws) - 1) & ~((<int64_t>1 << ws) - 1)
        if commit:
            k.rcv_wnd = <uint32_t>nw
            k.rcv_wup = k.rcv_nxt
        if nw > (<int64_t>65535 << ws):
            nw = <int64_t>65535 << ws
        nw >>= ws
        if commit:
            if nw == 0:
                if old_win:
                    self.ctr[<int>C_TcpExtTCPToZeroWindowAdv] += 1
            elif old_win == 0:
                self.ctr[<int>C_TcpExtTCPFromZeroWindowAdv] += 1
            self._zw_mark(k, r, <uint32_t>nw)
        return <uint32_t>nw

    cdef inline void _zw_mark(self, Sock* k, ConnRec* r, uint32_t w) noexcept nogil:
        if w == 0:
            r.zw_advs += 1
            if not (k.xflags & XF_ZW):
                k.xflags |= XF_ZW
                k.zw_since = self.now
        elif k.xflags & XF_ZW:
            k.xflags &= ~XF_ZW
            r.zw_ns += self.now - k.zw_since

    cdef uint16_t _send_ack(self, int32_t s, Py_ssize_t i, uint8_t evkind) noexcept nogil:
        """tcp_send_ack -> __tcp_transmit_skb (tcp_select_window) and
        tcp_event_ack_sent (pending ACK cleared, delack timer stopped,
        tcp_dec_quickack_mode).  i >= 0: the reply of row i, else a timer
        event of kind evkind."""
        cdef Sock* k = &self.dm.socks[s]
        cdef uint16_t w = <uint16_t>self._select_window(k, True)
        self._tcp_out(k.family == 6, self._ack_optlen(k))
        self._ack_sent(s)
        self.ctr[<int>C_TcpOutSegs] += 1
        if i >= 0:
            self.vo.reply[i] = R_ACK
            self.vo.reply_seq[i] = k.snd_nxt
            self.vo.reply_ack[i] = k.rcv_nxt
            self.vo.reply_win[i] = w
            self.vo.reply_flags[i] = TH_ACK
        else:
            self._ev(self.now, k.conn_id, k.listener, evkind, k.snd_nxt, k.rcv_nxt, w,
                     TH_ACK, 255, 0)
        return w

    cdef inline void _ack_sent(self, int32_t s) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        if k.quick:
            if k.xflags & XF_ACK_SCHED:
                k.quick -= 1
        # (tcp_options_write clears the D-SACK of the segment that carried it)
        k.xflags &= ~(XF_ACK_SCHED | XF_ACK_NOW | XF_NOMEM | XF_DSACK)
        self._tcancel(TK_DELACK, s)

    cdef inline void _incr_quickack(self, Sock* k, uint32_t maxq) noexcept nogil:
        # tcp_input.c tcp_incr_quickack
        cdef uint32_t q = k.rcv_wnd // (2 * <uint32_t>k.rcv_mss)
        if q == 0:
            q = 2
        if q > maxq:
            q = maxq
        if q > k.quick:
            k.quick = <uint8_t>q

    cdef inline void _enter_quickack(self, Sock* k) noexcept nogil:
        # tcp_enter_quickack_mode: quickacks, leave pingpong
        self._incr_quickack(k, TCP_MAX_QUICKACKS)
        k.xflags &= ~XF_PINGPONG

    cdef void _ack_snd_check(self, int32_t s, Py_ssize_t i) noexcept nogil:
        """tcp_input.c tcp_ack_snd_check / __tcp_ack_snd_check."""
        cdef Sock* k = &self.dm.socks[s]
        cdef int64_t w
        if not (k.xflags & XF_ACK_SCHED):
            return
        if (k.xflags & XF_ACK_NOW) or (k.quick and not (k.xflags & XF_PINGPONG)):
            self._send_ack(s, i, 0)
            return
        if <uint32_t>(k.rcv_nxt - k.rcv_wup) > k.rcv_mss:
            # ... and (unread < sk_rcvlowat (1) or the window does not shrink);
            # __tcp_select_window's quick = 0 side effect applies
            if k.rcv_nxt == k.copied_seq:
                self._send_ack(s, i, 0)
                return
            w = self._raw_window(k, True)
            if w >= k.rcv_wnd:
                self._send_ack(s, i, 0)
                return
        if k.ofo_head < 0:
            self._send_delayed_ack(s, i)
            return
        # out-of-order data: SACK compression after TCP_FASTRETRANS_THRESH
        if not (k.flags & SKF_SACK_OK):
            self._send_ack(s, i, 0)
            return
        if k.comp_rcv_nxt != k.rcv_nxt:
            k.comp_rcv_nxt = k.rcv_nxt
            k.dupack_cnt = 0
        if k.dupack_cnt < TCP_FASTRETRANS_THRESH:
            k.dupack_cnt += 1
            self._send_ack(s, i, 0)
        # else: compressed SACK (hrtimer) -- not modelled, no ACK recorded

    cdef void _send_delayed_ack(self, int32_t s, Py_ssize_t i) noexcept nogil:
        """tcp_output.c tcp_send_delayed_ack with ato = TCP_ATO_MIN (40 ms):
        an older deadline is kept; if it is within ato/4, ACK now."""
        cdef Sock* k = &self.dm.socks[s]
        cdef int64_t timeout = self.now + TCP_ATO_MIN_NS
        if k.heap_pos >= 0:
            if self.heap[k.heap_pos].when <= self.now + (TCP_ATO_MIN_NS >> 2):
                self._send_ack(s, i, 0)
                return
            if self.heap[k.heap_pos].when <= timeout:
                return
        self._tarm(TK_DELACK, s, timeout)

    cdef void _delack_timer(self, int32_t s, int64_t when) noexcept nogil:
        """tcp_timer.c tcp_delack_timer_handler: DelayedACKs."""
        cdef Sock* k = &self.dm.socks[s]
        if k.xflags & XF_ACK_SCHED:
            if k.xflags & XF_PINGPONG:
                k.xflags &= ~XF_PINGPONG
            self._send_ack(s, -1, EV_DELACK)
            self.ctr[<int>C_TcpExtDelayedACKs] += 1

    cdef inline void _set_state(self, Sock* k, uint8_t st) noexcept nogil:
        """tcp.c tcp_set_state: CurrEstab counts ESTABLISHED and CLOSE_WAIT
        (6.10+); EstabResets on ESTABLISHED/CLOSE_WAIT -> CLOSE."""
        cdef uint8_t old = k.state
        cdef bint was = old == TS_ESTABLISHED or old == TS_CLOSE_WAIT
        cdef bint now_ = st == TS_ESTABLISHED or st == TS_CLOSE_WAIT
        if was and not now_:
            self.ctr[<int>C_TcpCurrEstab] -= 1
            if st == TS_CLOSE:
                self.ctr[<int>C_TcpEstabResets] += 1
        elif now_ and not was:
            self.ctr[<int>C_TcpCurrEstab] += 1
        k.state = st
        if k.rec >= 0:
            self.rec[k.rec].state = st
            self.rec[k.rec].states |= <uint32_t>1 << st

    cdef void _purge(self, Sock* k) noexcept nogil:
        cdef int32_t e, nx
        e = k.rq_head
        while e >= 0:
            nx = self.skb[e].next
            self._skb_put(e)
            e = nx
        e = k.ofo_head
        while e >= 0:
            nx = self.skb[e].next
            self._skb_put(e)
            e = nx
        k.rq_head = -1
        k.rq_tail = -1
        k.ofo_head = -1
        k.rmem_alloc = 0
        k.rq_bytes = 0

    cdef inline int32_t _skb_get(self) noexcept nogil:
        cdef int32_t e
        if self.skb_free >= 0:
            e = self.skb_free
            self.skb_free = self.skb[e].next
            self.skb_nfree -= 1
        else:
            e = <int32_t>self.skb_hw
            self.skb_hw += 1
        self.skb[e].next = -1
        self.skb[e].fin = 0
        # every field the coalescing rules read starts known: an OFO skb
        # would otherwise inherit the clone / GSO stamps of the slot's last use
        self.skb[e].uncl = 0
        self.skb[e].nfrags = 0
        self.skb[e].acked_ns = -1
        self.skb[e].gso_ns = -1
        return e

    cdef inline void _skb_put(self, int32_t e) noexcept nogil:
        self.skb[e].next = self.skb_free
        self.skb_free = e
        self.skb_nfree += 1

    cdef void _close(self, int32_t s, uint8_t why) noexcept nogil:
        """tcp_done: CLOSE, unhashed.  A child still in the accept queue
        stays allocated until the application accepts it."""
        cdef Sock* k = &self.dm.socks[s]
        cdef ConnRec* r
        self._set_state(k, TS_CLOSE)
        if k.rec >= 0:
            r = &self.rec[k.rec]
            if r.why == CW_OPEN:
                r.why = why
            if r.end_ns < 0:
                r.end_ns = self.now
            self._zw_close(k, r)
            self._rec_finish(k.rec)
            k.rec = -1
        self._tcancel(TK_DELACK, s)
        self._tcancel(TK_READ, s)
        self._purge(k)
        demux_unhash(&self.dm, s)
        if not (k.flags & SKF_IN_ACCEPTQ):
            demux_free(&self.dm, s)

    cdef inline void _pend_div(self, uint64_t h) noexcept nogil:
        """A divergence on a 4-tuple whose connection has no record yet (a
        host SYN-ACK the model has no state for, a host RST on a request
        sock): kept in a direct-mapped table and added to the record if the
        model makes a connection of that 4-tuple within PDV_MAX_AGE_NS
        (a collision overwrites: the global counters are unaffected)."""
        cdef PendDiv* p = &self.pdv[h & (PDV_SLOTS - 1)]
        if p.fp != h or p.n == 0 or self.now - p.when > PDV_MAX_AGE_NS:
            p.fp = h
            p.n = 0
        p.n += 1
        p.when = self.now

    cdef inline int32_t _rec_new(self) noexcept nogil:
        """A record slot: the free list first, else a never-used one
        (capacity reserved in _reserve)."""
        cdef int32_t j
        if self.rec_free >= 0:
            j = self.rec_free
            self.rec_free = self.rec[j].link
            self.rec_nfree -= 1
        else:
            j = <int32_t>self.rec_hw
            self.rec_hw += 1
        self.rec_live += 1
        if self.rec_live > self.rec_live_max:
            self.rec_live_max = self.rec_live
        return j

    cdef inline void _rec_finish(self, int32_t j) noexcept nogil:
        """The connection is finished (tcp_done, or its TIME_WAIT minisock
        is gone): its record moves to the done list.  The slot is reused only
        after take_finished (between batches), so code later in the same row
        may still write it."""
        self.rec[j].link = -1
        if self.rec_done_tail >= 0:
            self.rec[self.rec_done_tail].link = j
        else:
            self.rec_done_head = j
        self.rec_done_tail = j
        self.rec_ndone += 1
        self.rec_live -= 1

    cdef inline void _zw_close(self, Sock* k, ConnRec* r) noexcept nogil:
        if k.xflags & XF_ZW:
            k.xflags &= ~XF_ZW
            r.zw_ns += self.now - k.zw_since
        if k.xflags & XF_PEER_ZW:
            k.xflags &= ~XF_PEER_ZW
            r.peer_zw_ns += self.now - k.peer_zw_since

    cdef void _reset(self, int32_t s) noexcept nogil:
        """tcp_input.c tcp_reset -> tcp_done."""
        self._close(s, CW_RST)

    cdef void _time_wait(self, int32_t s) noexcept nogil:
        """tcp_minisocks.c tcp_time_wait(TCP_TIME_WAIT): a minisock takes the
        4-tuple for TCP_TIMEWAIT_LEN (TW), or TCPTimeWaitOverflow."""
        cdef Sock* k = &self.dm.socks[s]
        cdef Sock* t
        cdef int32_t tw
        cdef uint32_t rwin
        if self.tw_count >= self.max_tw_buckets:
            self.ctr[<int>C_TcpExtTCPTimeWaitOverflow] += 1
            self._close(s, CW_TW_OVERFLOW)
            return
        rwin = self._rcv_window(k)
        tw = demux_new(&self.dm)
        k = &self.dm.socks[s]
        t = &self.dm.socks[tw]
        t.la0 = k.la0
        t.la1 = k.la1
        t.ra0 = k.ra0
        t.ra1 = k.ra1
        t.lport = k.lport
        t.rport = k.rport
        t.hash = k.hash
        t.family = k.family
        t.listener = k.listener
        t.conn_id = k.conn_id
        t.rcv_nxt = k.rcv_nxt
        t.snd_nxt = k.snd_nxt
        t.rcv_wnd = rwin
        t.rcv_wscale = k.rcv_wscale
        t.ts_recent = k.ts_recent               # tw_ts_recent
        t.ts_stamp = k.ts_stamp                 # tw_ts_recent_stamp
        t.xflags = k.xflags & XF_TS
        t.rec = k.rec
        t.created_ns = self.now
        self._set_state(k, TS_TIME_WAIT)
        if k.rec >= 0:
            self.rec[k.rec].why = CW_FIN
            self.rec[k.rec].end_ns = self.now
            self._zw_close(k, &self.rec[k.rec])
        k.rec = -1
        self._close(s, CW_FIN)
        t.state = TS_TIME_WAIT
        demux_insert(&self.dm, tw)
        self.tw_count += 1
        self.ctr[<int>C_TcpExtTW] += 1
        self._tarm(TK_TW, tw, self.now + self.tw_len_ns)

    cdef void _tw_expire(self, int32_t s, int64_t when) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        self._ev(when, k.conn_id, k.listener, EV_TW_EXPIRED, 0, 0, 0, 0, 255, 0)
        if k.rec >= 0:
            self.rec[k.rec].state = TS_CLOSE
        self._tw_kill(s)

    cdef inline void _tw_kill(self, int32_t s) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        if k.rec >= 0:
            self._rec_finish(k.rec)
            k.rec = -1
        self._tcancel(TK_TW, s)
        self.tw_count -= 1
        demux_remove(&self.dm, s)

    cdef bint _oow_limited(self, Sock* k, Py_ssize_t i, int ctr_idx) noexcept nogil:
        """tcp_input.c tcp_oow_rate_limited (data without SYN is never limited)."""
        cdef int64_t el
        cdef Batch* c = &self.b
        if c.payload_len[i] and not (c.tcp_flags[i] & TH_SYN):
            return False
        if k.flags & SKF_OOW_SET:
            el = self.now - k.last_oow_ns
            if el >= 0 and el < self.invalid_ratelimit_ns:
                self.ctr[ctr_idx] += 1
                return True
        k.last_oow_ns = self.now
        k.flags |= SKF_OOW_SET
        return False

    cdef void _challenge_ack(self, int32_t s, Py_ssize_t i) noexcept nogil:
        """tcp_input.c tcp_send_challenge_ack (tcp_challenge_ack_limit is
        INT_MAX by default: only the per-socket limit applies)."""
        cdef Sock* k = &self.dm.socks[s]
        if self._oow_limited(k, i, <int>C_TcpExtTCPACKSkippedChallenge):
            return
        self.ctr[<int>C_TcpExtTCPChallengeACK] += 1
        self._send_ack(s, i, 0)

    cdef void _send_dupack(self, int32_t s, Py_ssize_t i, uint32_t seq,
                           uint32_t end_seq) noexcept nogil:
        """tcp_input.c tcp_send_dupack."""
        cdef Sock* k = &self.dm.socks[s]
        if end_seq != seq and seq_before(seq, k.rcv_nxt):
            self.ctr[<int>C_TcpExtDelayedACKLost] += 1
            self._enter_quickack(k)
            self._dsack_set(k)
        self._send_ack(s, i, 0)

    cdef inline void _cdrop(self, Py_ssize_t i, Sock* k, uint8_t reason) noexcept nogil:
        cdef ConnRec* r
        self._drop(i, reason)
        if k.rec >= 0:
            r = &self.rec[k.rec]
            r.drops += 1
            r.drop_by[self.dr_slot[reason]] += 1

    cdef uint8_t _tcp_sequence(self, Sock* k, uint32_t seq, uint32_t end_seq,
                               bint fin) noexcept nogil:
        """tcp_input.c tcp_sequence (profile variant, sheet 5.7)."""
        cdef uint32_t limit
        if seq_before(end_seq, k.rcv_wup):
            return DR_TCP_OLD_SEQUENCE
        limit = k.rcv_nxt + self._rcv_window(k)
        if self.seq_variant == 0:
            if seq_after(seq, limit):
                return DR_TCP_INVALID_SEQUENCE
            return 0
        if seq_after(end_seq, limit):
            if self.fin_exception and not seq_after(end_seq - fin, limit):
                return 0
            if seq_after(seq, limit):
                return DR_TCP_INVALID_SEQUENCE
            if k.rq_head >= 0:
                return DR_TCP_INVALID_END_SEQUENCE
        return 0

    cdef uint8_t _disordered_ack_check(self, Sock* k, Py_ssize_t i, uint32_t seq,
                                       uint32_t end_seq) noexcept nogil:
        """tcp_input.c tcp_disordered_ack_check (6.15+): 0 for a disordered
        duplicate pure ACK that PAWS must let through, else the drop reason
        (TCP_RFC7323_PAWS_ACK for an old pure ACK).  tcp_tsval_replay:
        icsk_rto * 1200 / HZ (rto_ms, see _child_init)."""
        cdef Batch* c = &self.b
        cdef uint32_t ack = c.tcp_ack[i]
        cdef uint32_t nwin = <uint32_t>c.tcp_win[i] << k.snd_wscale
        cdef uint8_t reason = DR_TCP_RFC7323_PAWS
        # 1. not a pure ACK
        if not (c.tcp_flags[i] & TH_ACK) or seq != end_seq:
            return reason
        # 2. not the expected sequence (older: PAWS_ACK, 6.15+ profiles)
        if seq != k.rcv_nxt:
            if seq_before(seq, k.rcv_nxt) and self.paws_old_ack:
                return DR_TCP_RFC7323_PAWS_ACK
            return reason
        # 3. not a duplicate ACK
        if ack != k.snd_una:
            return reason
        # 4. updating the window (tcp_may_update_window)
        if seq_after(ack, k.snd_una) or seq_after(seq, k.snd_wl1) or \
                (seq == k.snd_wl1 and (nwin > k.snd_wnd or nwin == 0)):
            return reason
        # 5. not in the replay window
        if <int32_t>(k.ts_recent - c.tcp_tsval[i]) > <int32_t>(k.rto_ms * 1200 // 1000):
            return reason
        return 0

    cdef uint8_t _ack_check(self, Sock* k, Py_ssize_t i) noexcept nogil:
        """tcp_input.c tcp_ack, the ACK field checks: 0 (acceptable),
        DR_TCP_OLD_ACK (before snd_una: ignored, the segment goes on),
        DR_TCP_TOO_OLD_ACK (before snd_una - min(max_window, bytes_acked),
        RFC 5961 5.2; "tcp: do not accept ACK of bytes we never sent", 6.8)
        or DR_TCP_ACK_UNSENT_DATA (after snd_nxt).  The host's sequence
        space is only known when its segments are in the capture
        (XF_HOST_SEEN): otherwise every ACK is taken as acceptable."""
        cdef uint32_t ack = self.b.tcp_ack[i]
        cdef int64_t maxw
        if not (k.xflags & XF_HOST_SEEN):
            return 0
        if seq_before(ack, k.snd_una):
            maxw = k.max_window
            if k.bytes_acked < maxw:
                maxw = k.bytes_acked
            if seq_before(ack, k.snd_una - <uint32_t>maxw):
                return DR_TCP_TOO_OLD_ACK
            return DR_TCP_OLD_ACK
        if seq_after(ack, k.snd_nxt):
            return DR_TCP_ACK_UNSENT_DATA
        return 0

    cdef void _peer_ack(self, Sock* k, Py_ssize_t i) noexcept nogil:
        """tcp_ack: snd_una from the peer's ACK (within the host's sent data),
        the peer's window (tcp_ack_update_window; tcp_may_update_window's
        ordering test not modelled) and its zero-window periods."""
        cdef Batch* c = &self.b
        cdef uint32_t ack = c.tcp_ack[i]
        cdef uint32_t w = <uint32_t>c.tcp_win[i] << k.snd_wscale
        cdef ConnRec* r = &self.rec[k.rec]
        cdef uint32_t seq = c.tcp_seq[i]
        # tcp_ack_update_window: tcp_may_update_window -> tcp_update_wl(ack_seq)
        if seq_after(ack, k.snd_una) or seq_after(seq, k.snd_wl1) or \
                (seq == k.snd_wl1 and (w > k.snd_wnd or w == 0)):
            k.snd_wl1 = seq
        if seq_after(ack, k.snd_una) and not seq_after(ack, k.snd_nxt):
            k.bytes_acked += <uint32_t>(ack - k.snd_una)
            k.snd_una = ack
        k.snd_wnd = w
        if w > k.max_window:
            k.max_window = w
        r.peer_win = w
        if w == 0:
            if not (k.xflags & XF_PEER_ZW):
                k.xflags |= XF_PEER_ZW
                k.peer_zw_since = self.now
                r.peer_zw += 1
        elif k.xflags & XF_PEER_ZW:
            k.xflags &= ~XF_PEER_ZW
            r.peer_zw_ns += self.now - k.peer_zw_since

    cdef void _full_rcv(self, Py_ssize_t i, int32_t s) noexcept nogil:
        """tcp_v4_do_rcv for a full socket: tcp_rcv_established (slow path)
        and tcp_rcv_state_process for the other synchronized states."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef Sock* k = &self.dm.socks[s]
        cdef ConnRec* r = &self.rec[k.rec]
        cdef uint16_t f = c.tcp_flags[i]
        cdef uint32_t seq = c.tcp_seq[i]
        cdef uint32_t plen = c.payload_len[i]
        cdef uint32_t end_seq = seq + plen + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0)
        cdef uint8_t st = k.state
        cdef uint8_t reason
        cdef bint fin_acked
        r.pkts_in += 1
        r.bytes_in += plen
        v.sock_state[i] = st
        v.verdict[i] = V_DELIVERED
        k.mstamp = self.now             # tcp_rcv_established: tcp_mstamp_refresh
        if not (f & (TH_ACK | TH_RST | TH_SYN)):
            self._cdrop(i, k, DR_TCP_FLAGS)
            self._post_row(i, s)
            return
        # tcp_input.c tcp_validate_incoming: "RFC1323: H1. Apply PAWS check
        # first" -- tcp_fast_parse_options (saw_tstamp only with tstamp_ok),
        # tcp_paws_check(&tp->rx_opt, TCP_PAWS_WINDOW), tcp_disordered_ack_check;
        # a RST is accepted even if it did not pass PAWS
        if (k.xflags & XF_TS) and (c.flags[i] & PF_TCP_TS) and not (f & TH_RST) and \
                not tcp_paws_check(k.ts_recent, k.ts_stamp, c.tcp_tsval[i], TCP_PAWS_WINDOW,
                                   self.now // 1000000000):
            reason = self._disordered_ack_check(k, i, seq, end_seq)
            if reason:
                if f & TH_SYN:
                    self._syn_challenge(i, s, st == TS_ESTABLISHED)
                    self._post_row(i, s)
                    return
                if reason == DR_TCP_RFC7323_PAWS_ACK:
                    # old ACKs are common: PAWSOldAck, no dupack
                    self.ctr[<int>C_TcpExtPAWSOldAck] += 1
                else:
                    self.ctr[<int>C_TcpExtPAWSEstab] += 1
                    if not self._oow_limited(k, i, <int>C_TcpExtTCPACKSkippedPAWS):
                        self._send_dupack(s, i, seq, end_seq)
                self._cdrop(i, k, reason)
                self._post_row(i, s)
                return
        reason = self._tcp_sequence(k, seq, end_seq, (f & TH_FIN) != 0)
        if reason:
            if not (f & TH_RST):
                if f & TH_SYN:
                    self._syn_challenge(i, s, st == TS_ESTABLISHED)
                    self._post_row(i, s)
                    return
                if self.seq_variant != 0 and (reason == DR_TCP_INVALID_SEQUENCE or
                                              reason == DR_TCP_INVALID_END_SEQUENCE):
                    self.ctr[<int>C_TcpExtBeyondWindow] += 1
                if not self._oow_limited(k, i, <int>C_TcpExtTCPACKSkippedSeq):
                    self._send_dupack(s, i, seq, end_seq)
            elif seq == k.rcv_nxt - 1 and (st == TS_CLOSE_WAIT or st == TS_LAST_ACK
                                           or st == TS_CLOSING):
                # tcp_reset_check
                v.sock_state[i] = TS_CLOSE
                self._reset(s)
                return
            self._cdrop(i, k, reason)
            self._post_row(i, s)
            return
        if f & TH_RST:
            # RFC 5961 3.2: rcv_nxt, or rcv_nxt - 1 after a FIN (tcp_reset_check)
            if seq == k.rcv_nxt or (seq == k.rcv_nxt - 1 and (
                    st == TS_CLOSE_WAIT or st == TS_LAST_ACK or st == TS_CLOSING)):
                v.sock_state[i] = TS_CLOSE
                self._reset(s)            # reset: tcp_reset + __kfree_skb
                return
            self._challenge_ack(s, i)
            self._cdrop(i, k, DR_TCP_RESET)
            self._post_row(i, s)
            return
        if f & TH_SYN:
            self._syn_challenge(i, s, st == TS_ESTABLISHED)
            self._post_row(i, s)
            return
        # step 5: tcp_ack -- the ACK field checks first
        reason = self._ack_check(k, i)
        if reason == DR_TCP_TOO_OLD_ACK:
            # RFC 5961 5.2: challenge ACK (tcp_ack in ESTABLISHED, the caller
            # in tcp_rcv_state_process otherwise), segment dropped
            self._challenge_ack(s, i)
            self._cdrop(i, k, reason)
            self._post_row(i, s)
            return
        if reason == DR_TCP_ACK_UNSENT_DATA:
            # tcp_rcv_established discards quietly; tcp_rcv_state_process
            # (the other states) sends a challenge ACK first
            if st != TS_ESTABLISHED:
                self._challenge_ack(s, i)
            self._cdrop(i, k, reason)
            self._post_row(i, s)
            return
        if reason == 0:
            # tcp_ack(FLAG_UPDATE_TS_RECENT) -> tcp_replace_ts_recent, after the
            # ACK checks and not for an old ACK: only for a segment that does
            # not start after rcv_wup and passes tcp_paws_check(0)
            # (tcp_store_ts_recent: ts_recent_stamp = ktime_get_seconds()).
            # The fast path's tcp_store_ts_recent (seq == rcv_nxt == rcv_wup,
            # TSval not older) is the same rule.
            if (k.xflags & XF_TS) and (c.flags[i] & PF_TCP_TS) and \
                    not seq_after(seq, k.rcv_wup) and \
                    tcp_paws_check(k.ts_recent, k.ts_stamp, c.tcp_tsval[i], 0,
                                   self.now // 1000000000):
                k.ts_recent = c.tcp_tsval[i]
                k.ts_stamp = self.now // 1000000000
            self._peer_ack(k, i)
        # else TCP_OLD_ACK: tcp_ack's old_ack path returns 0 -- nothing
        # updated, the segment goes on (the reason is only returned for a
        # full socket in SYN_RECV, which the model never has)
        self._rcv_rtt_measure_ts(k, i, seq, end_seq)
        fin_acked = (k.xflags & XF_HOST_FIN) and not seq_before(c.tcp_ack[i], k.host_fin_end)
        if st == TS_FIN_WAIT1 and fin_acked:
            self._set_state(k, TS_FIN_WAIT2)
            st = TS_FIN_WAIT2
        elif st == TS_CLOSING and fin_acked:
            v.sock_state[i] = TS_TIME_WAIT
            self._time_wait(s)
            return
        elif st == TS_LAST_ACK and fin_acked:
            v.sock_state[i] = TS_CLOSE
            self._close(s, CW_FIN)
            return
        # step 7
        if (st == TS_CLOSE_WAIT or st == TS_CLOSING or st == TS_LAST_ACK) \
                and not seq_before(seq, k.rcv_nxt):
            self._cdrop(i, k, DR_NOT_SPECIFIED)
            self._post_row(i, s)
            return
        self._data_queue(i, s, seq, end_seq, plen, (f & TH_FIN) != 0)
        k = &self.dm.socks[s]
        if k.state == TS_TIME_WAIT or k.state == TS_CLOSE or k.state == TS_NONE:
            return
        self._ack_snd_check(s, i)
        self._post_row(i, s)

    cdef inline void _post_row(self, Py_ssize_t i, int32_t s) noexcept nogil:
        """After a row: the application's as-arrives read, the window the
        host would now advertise (adv_win), and the max queue."""
        cdef Sock* k = &self.dm.socks[s]
        cdef ConnRec* r = &self.rec[k.rec]
        if k.rq_bytes > r.max_rq:
            r.max_rq = k.rq_bytes
        if k.rq_bytes and (k.flags & SKF_ACCEPTED):
            if self.ls[k.listener].rd_kind == RD_AS_ARRIVES:
                self._app_read(s, k.rq_bytes)
            else:
                self._read_arm(s)
        self.vo.adv_win[i] = self._select_window(k, False) << k.rcv_wscale
        self.vo.sock_state[i] = k.state
        self.vo.rcv_queue[i] = <uint32_t>k.rq_bytes
        if self.smp_on:
            self._smp_sock(s, self.vo.adv_win[i])

    cdef void _syn_challenge(self, Py_ssize_t i, int32_t s, bint inerr) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        if inerr:
            self.ctr[<int>C_TcpInErrs] += 1
        self.ctr[<int>C_TcpExtTCPSYNChallenge] += 1
        self._challenge_ack(s, i)
        self._cdrop(i, k, DR_TCP_INVALID_SYN)

    cdef void _data_queue(self, Py_ssize_t i, int32_t s, uint32_t seq, uint32_t end_seq,
                          uint32_t plen, bint fin) noexcept nogil:
        """tcp_input.c tcp_data_queue (sheet 5.6)."""
        cdef Sock* k = &self.dm.socks[s]
        cdef int64_t ts
        if seq == end_seq:
            return                                  # pure ACK: consumed
        if seq == k.rcv_nxt:
            if self._rcv_window(k) == 0 and not (plen == 0 and fin):
                self.ctr[<int>C_TcpExtTCPZeroWindowDrop] += 1
                self._out_of_window(i, k, DR_TCP_ZEROWINDOW)
                return
            self._queue_and_out(i, s, seq, end_seq, plen, fin)
            return
        if not seq_after(end_seq, k.rcv_nxt):
            self.ctr[<int>C_TcpExtDelayedACKLost] += 1
            self._dsack_set(k)
            self._out_of_window(i, k, DR_TCP_OLD_DATA)
            return
        if not seq_before(seq, k.rcv_nxt + self._rcv_window(k)):
            self._out_of_window(i, k, DR_TCP_OVERWINDOW)
            return
        if seq_before(seq, k.rcv_nxt):
            self._dsack_set(k)                      # D-SACK for the head, even if dropped
            if self._rcv_window(k) == 0:
                self.ctr[<int>C_TcpExtTCPZeroWindowDrop] += 1
                self._out_of_window(i, k, DR_TCP_ZEROWINDOW)
                return
            self._queue_and_out(i, s, seq, end_seq, plen, fin)
            return
        self._data_queue_ofo(i, s, seq, end_seq, plen, fin)

    cdef inline void _out_of_window(self, Py_ssize_t i, Sock* k, uint8_t reason) noexcept nogil:
        self._enter_quickack(k)
        k.xflags |= XF_ACK_SCHED
        self._cdrop(i, k, reason)

    cdef int _rmem_schedule(self, Sock* k, int64_t truesize, uint32_t length,
                            uint32_t seq) noexcept nogil:
        """tcp_try_rmem_schedule: 0 ok, -1 refused (sk_rmem_schedule / tcp_mem
        always succeeds: no memory pressure modelled)."""
        if self._can_ingest(k, truesize, length):
            return 0
        if self._prune_queue(k, truesize, length, seq) < 0:
            return -1
        return 0

    cdef int _prune_queue(self, Sock* k, int64_t truesize, uint32_t length,
                          uint32_t seq) noexcept nogil:
        """tcp_input.c tcp_prune_queue; tcp_collapse* not modelled (skbs keep
        their truesize)."""
        self.ctr[<int>C_TcpExtPruneCalled] += 1
        if not self._can_ingest(k, truesize, length):
            # tcp_clamp_window
            k.quick = 0
            if k.rcvbuf < self.rmem2 and not (k.xflags & XF_LOCKED):
                k.rcvbuf = k.rmem_alloc if k.rmem_alloc < self.rmem2 else self.rmem2
            if k.rmem_alloc > k.rcvbuf:
                k.rcv_ssthresh = k.window_clamp
                if k.rcv_ssthresh > 2 * <uint32_t>k.advmss:
                    k.rcv_ssthresh = 2 * <uint32_t>k.advmss
        if self._can_ingest(k, truesize, length):
            return 0
        self._prune_ofo(k, truesize, length, seq)
        if self._can_ingest(k, truesize, length):
            return 0
        self.ctr[<int>C_TcpExtRcvPruned] += 1
        return -1

    cdef bint _prune_ofo(self, Sock* k, int64_t truesize, uint32_t length,
                         uint32_t seq) noexcept nogil:
        """tcp_input.c tcp_prune_ofo_queue: drop from the right end (goal
        rcvbuf/8 per round), never data that would land before the new skb."""
        cdef int64_t goal = k.rcvbuf >> 3
        cdef int32_t e, prev, last
        cdef bint pruned = False
        if k.ofo_head < 0:
            return False
        while k.ofo_head >= 0:
            # last entry and its predecessor
            prev = -1
            last = k.ofo_head
            while self.skb[last].next >= 0:
                prev = last
                last = self.skb[last].next
            if seq_after(seq, self.skb[last].seq):
                break
            pruned = True
            goal -= self.skb[last].truesize
            k.rmem_alloc -= self.skb[last].truesize
            if prev >= 0:
                self.skb[prev].next = -1
            else:
                k.ofo_head = -1
            self._skb_put(last)
            if prev < 0 or goal <= 0:
                if self._can_ingest(k, truesize, length):
                    break
                goal = k.rcvbuf >> 3
        if pruned:
            self.ctr[<int>C_TcpExtOfoPruned] += 1
        return pruned

    cdef void _queue_and_out(self, Py_ssize_t i, int32_t s, uint32_t seq, uint32_t end_seq,
                             uint32_t plen, bint fin) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        cdef int64_t ts = self._truesize(plen)
        cdef int32_t e
        cdef uint32_t data_end = end_seq - fin
        if self._rmem_schedule(k, ts, plen, seq) < 0:
            k.xflags |= XF_NOMEM | XF_ACK_NOW | XF_ACK_SCHED
            if k.rq_head >= 0 and plen:
                self.ctr[<int>C_TcpExtTCPRcvQDrop] += 1
                self._cdrop(i, k, DR_PROTO_MEM)
                return
            # sk_forced_mem_schedule: accepted anyway
        # tcp_queue_rcv: into the tail skb if it can take it, else a new skb
        if k.rq_tail >= 0 and self._try_coalesce(k, k.rq_tail, seq, data_end, ts, plen):
            pass
        else:
            e = self._skb_get()
            self.skb[e].seq = k.rcv_nxt
            self.skb[e].fin = 0
            self.skb[e].end_seq = data_end
            self.skb[e].truesize = <uint32_t>ts
            self.skb[e].nfrags = <uint8_t>self._skb_nfrags(plen)
            self.skb[e].uncl = 0
            self.skb[e].acked_ns = -1
            self.skb[e].gso_ns = -1 if (i < 0 or (self.b.tcp_flags[i] & TH_PSH)) else self.now
            if k.rq_tail >= 0:
                self.skb[k.rq_tail].next = e
            else:
                k.rq_head = e
            k.rq_tail = e
            k.rmem_alloc += ts
        if seq_after(data_end, k.rcv_nxt):
            k.rq_bytes += <uint32_t>(data_end - k.rcv_nxt)
        k.rcv_nxt = end_seq
        if plen:
            self._event_data_recv(k, plen, ts)
        if fin:
            self._fin(i, s)
            k = &self.dm.socks[s]
            if k.state == TS_TIME_WAIT or k.state == TS_CLOSE or k.state == TS_NONE:
                return
        if k.ofo_head >= 0:
            self._ofo_queue(i, s)
            k = &self.dm.socks[s]
            if k.state == TS_TIME_WAIT or k.state == TS_CLOSE or k.state == TS_NONE:
                return
            if k.ofo_head < 0:
                k.xflags |= XF_ACK_NOW

    cdef inline int _skb_nfrags(self, uint32_t plen) noexcept nogil:
        # nr_frags of a freshly received skb: frag-built skbs carry their
        # payload in one page frag (a segment crossing a page boundary would
        # need two: not visible in a pcap), linear ones none
        if (self.co_mode == COALESCE_FRAGS or self.co_mode == COALESCE_CLONE) and plen:
            return 1
        return 0

    cdef bint _try_coalesce(self, Sock* k, int32_t to, uint32_t seq, uint32_t data_end,
                            int64_t ts, uint32_t plen) noexcept nogil:
        """tcp_input.c tcp_try_coalesce + net/core/skbuff.c skb_try_coalesce
        (6.18): the receive-queue tail `to` absorbs the in-order segment
        [seq, data_end) of truesize ts.  rmem_alloc grows by delta only, the
        segment's skb is freed (kfree_skb_partial).  to.truesize += delta:
        delta = 0 when the bytes fit to's tailroom (only len 0 here: the
        tailroom of a received skb is not visible), ts - SKB_TRUESIZE(
        skb_end_offset(from)) when from's payload is in frags (co_keep = the
        head's truesize), ts - SKB_DATA_ALIGN(sizeof(struct sk_buff)) when
        from's page-frag head is stolen (co_keep), refused when to is cloned
        (skb_cloned) or the frags would pass MAX_SKB_FRAGS.
        COALESCE_CLONE (veth, tx/gso off): TCP always builds GSO skbs; a
        single-segment skb goes out as tcp_transmit_skb's skb_clone and
        stays cloned until the sender frees its original on the ACK (taken
        here as co_lag_ns after the host's first ACK covering to), while
        the segments of a multi-segment skb are private skbs of
        skb_segment (validate_xmit_skb): to counts as one when from follows
        it within co_gso_gap_ns and to carries no PSH (tcp_gso_segment
        keeps PSH for the last segment only).  Measured on veth (6.18):
        with sk_rcvbuf 8192 (window 2896, 1-segment skbs) the first three
        segments stay separate skbs (r = 3 x 2280) although the first was
        ACKed 7 us before the second arrived; with SO_RCVBUF 32768 the two
        segments of one 2896-byte send merge (r = 832 + 2896).  Not modelled: pp_recycle / readable / zcopy /
        decrypted / MPTCP mismatches (never for one plain TCP flow)."""
        cdef SkbEnt* t = &self.skb[to]
        cdef int nf
        cdef int64_t delta
        if self.co_mode == COALESCE_NONE or t.end_seq != seq:
            return False
        if self.co_mode == COALESCE_CLONE and not t.uncl:
            if t.acked_ns >= 0 and self.now - t.acked_ns >= self.co_lag_ns:
                pass                            # the sender has freed its original
            elif t.gso_ns >= 0 and self.now - t.gso_ns <= self.co_gso_gap_ns:
                pass                            # to and from: one GSO skb split in software
            else:
                return False
            t.uncl = 1
        if plen == 0:
            delta = 0                           # len <= skb_tailroom(to)
            nf = 0
        elif self.co_mode == COALESCE_HEAD:
            nf = 1
            if t.nfrags + nf >= self.co_max_frags:
                return False
            delta = ts - self.co_keep
        else:
            nf = 1
            if t.nfrags + nf > self.co_max_frags:
                return False
            delta = ts - self.co_keep
        if delta < plen:
            delta = plen                        # WARN_ON_ONCE(delta < len)
        t.nfrags += nf
        t.truesize += <uint32_t>delta
        t.end_seq = data_end
        k.rmem_alloc += delta
        self.ctr[<int>C_TcpExtTCPRcvCoalesce] += 1
        return True

    cdef void _event_data_recv(self, Sock* k, uint32_t plen, int64_t ts) noexcept nogil:
        """tcp_event_data_recv: ACK scheduled, tcp_measure_rcv_mss (large
        segments only), quickack at the first data, tcp_grow_window."""
        cdef int64_t room, incr, tsz, win
        k.xflags |= XF_ACK_SCHED
        k.lrcv_ns = self.now
        self._measure_rcv_mss(k, plen, ts)
        self._rcv_rtt_measure(k)
        if not (k.xflags & XF_ATO):
            k.xflags |= XF_ATO
            self._incr_quickack(k, TCP_MAX_QUICKACKS)
        if plen >= 128:
            # tcp_grow_window (no memory pressure; truesize_adjust: linear skb)
            room = self._win_from_space(k, k.rcvbuf - k.rmem_alloc)
            if room > k.window_clamp:
                room = k.window_clamp
            room -= k.rcv_ssthresh
            if room <= 0:
                return
            if self._win_from_space(k, ts) <= plen:
                incr = 2 * <int64_t>k.advmss
            else:
                # __tcp_grow_window
                incr = 0
                tsz = self._win_from_space(k, ts) >> 1
                win = self._win_from_space(k, self.rmem2) >> 1
                while k.rcv_ssthresh <= win:
                    if tsz <= plen:
                        incr = 2 * <int64_t>k.rcv_mss
                        break
                    tsz >>= 1
                    win >>= 1
            if incr:
                if incr < 2 * <int64_t>plen:
                    incr = 2 * <int64_t>plen
                k.rcv_ssthresh += <uint32_t>(room if room < incr else incr)
                k.quick |= 1

    cdef void _fin(self, Py_ssize_t i, int32_t s) noexcept nogil:
        """tcp_input.c tcp_fin."""
        cdef Sock* k = &self.dm.socks[s]
        cdef int32_t e, nx
        k.xflags |= XF_ACK_SCHED | XF_RCV_SHUT
        if k.state == TS_ESTABLISHED:
            self._set_state(k, TS_CLOSE_WAIT)
            k.xflags |= XF_PINGPONG
        elif k.state == TS_FIN_WAIT1:
            self._send_ack(s, i, 0)
            self._set_state(k, TS_CLOSING)
        elif k.state == TS_FIN_WAIT2:
            self._send_ack(s, i, 0)
            self.vo.sock_state[i] = TS_TIME_WAIT
            self._time_wait(s)
            return
        # out-of-order data after the FIN is purged
        e = k.ofo_head
        while e >= 0:
            nx = self.skb[e].next
            k.rmem_alloc -= self.skb[e].truesize
            self._skb_put(e)
            e = nx
        k.ofo_head = -1

    cdef void _ofo_queue(self, Py_ssize_t i, int32_t s) noexcept nogil:
        """tcp_input.c tcp_ofo_queue: move what the filled hole made in-order."""
        cdef Sock* k = &self.dm.socks[s]
        cdef int32_t e
        cdef uint32_t end, dend
        cdef uint32_t dsack_high = k.rcv_nxt
        cdef uint8_t fin
        while k.ofo_head >= 0:
            e = k.ofo_head
            if seq_after(self.skb[e].seq, k.rcv_nxt):
                break
            k.ofo_head = self.skb[e].next
            end = self.skb[e].end_seq
            if seq_before(self.skb[e].seq, dsack_high):
                self._dsack_set(k)              # tcp_dsack_extend
                if seq_before(end, dsack_high):
                    dsack_high = end
            fin = self.skb[e].fin
            if not seq_after(end, k.rcv_nxt):
                # TCP_OFO_DROP (already received)
                k.rmem_alloc -= self.skb[e].truesize
                self._skb_put(e)
                continue
            dend = end - fin
            self.skb[e].next = -1
            if k.rq_tail >= 0 and self._try_coalesce(k, k.rq_tail, self.skb[e].seq, dend,
                                                     self.skb[e].truesize,
                                                     <uint32_t>(dend - self.skb[e].seq)):
                # kfree_skb_partial: the OFO skb was charged in full
                k.rmem_alloc -= self.skb[e].truesize
                self._skb_put(e)
            else:
                self.skb[e].seq = k.rcv_nxt
                self.skb[e].end_seq = dend
                self.skb[e].fin = 0
                self.skb[e].acked_ns = -1
                self.skb[e].gso_ns = -1
                if k.rq_tail >= 0:
                    self.skb[k.rq_tail].next = e
                else:
                    k.rq_head = e
                k.rq_tail = e
            if seq_after(dend, k.rcv_nxt):
                k.rq_bytes += <uint32_t>(dend - k.rcv_nxt)
            k.rcv_nxt = end
            if fin:
                self._fin(i, s)         # purges what is left of the OFO queue
                return

    cdef void _data_queue_ofo(self, Py_ssize_t i, int32_t s, uint32_t seq, uint32_t end_seq,
                              uint32_t plen, bint fin) noexcept nogil:
        """tcp_input.c tcp_data_queue_ofo; tcp_ooo_try_coalesce into the
        entry it follows without overlap (the ooo_last_skb shortcut and the
        rbtree walk alike; the tcp_grow_window of coalesce_done is not
        modelled, as for queued OFO skbs)."""
        cdef Sock* k = &self.dm.socks[s]
        cdef int64_t ts = self._truesize(plen)
        cdef int32_t e, p, prev, nx
        cdef uint32_t dend = end_seq           # OFO entries keep the FIN in end_seq
        if self._rmem_schedule(k, ts, plen, seq) < 0:
            self.ctr[<int>C_TcpExtTCPOFODrop] += 1
            self._cdrop(i, k, DR_PROTO_MEM)
            return
        k = &self.dm.socks[s]
        k.xflags |= XF_ACK_SCHED
        self.ctr[<int>C_TcpExtTCPOFOQueue] += 1
        # find the insertion point: prev = last entry with entry.seq <= seq
        prev = -1
        p = k.ofo_head
        while p >= 0 and not seq_after(self.skb[p].seq, seq):
            prev = p
            p = self.skb[p].next
        if prev >= 0 and seq_before(seq, self.skb[prev].end_seq):
            self._dsack_set(k)                  # tcp_dsack_set / tcp_dsack_extend
            if not seq_after(dend, self.skb[prev].end_seq):
                # all the bits are present
                self.ctr[<int>C_TcpExtTCPOFOMerge] += 1
                self._cdrop(i, k, DR_TCP_OFOMERGE)
                self._ofo_rcvbuf_grow(k)
                return
            if self.skb[prev].seq == seq:
                # skb covers prev: replace it
                self.ctr[<int>C_TcpExtTCPOFOMerge] += 1
                k.rmem_alloc -= self.skb[prev].truesize
                self.skb[prev].end_seq = dend
                self.skb[prev].fin = fin
                self.skb[prev].truesize = <uint32_t>ts
                self.skb[prev].nfrags = <uint8_t>self._skb_nfrags(plen)
                self.skb[prev].uncl = 0
                k.rmem_alloc += ts
                e = prev
                self._ofo_merge_right(k, e)
                self._ofo_rcvbuf_grow(k)
                return
        if prev >= 0 and not self.skb[prev].fin \
                and self._try_coalesce(k, prev, seq, dend, ts, plen):
            # coalesce_done: kfree_skb_partial, no merge with what follows
            self.skb[prev].fin = fin
            self._ofo_rcvbuf_grow(k)
            return
        e = self._skb_get()
        self.skb[e].seq = seq
        self.skb[e].end_seq = dend
        self.skb[e].fin = fin
        self.skb[e].truesize = <uint32_t>ts
        self.skb[e].nfrags = <uint8_t>self._skb_nfrags(plen)
        self.skb[e].uncl = 0
        self.skb[e].next = p
        if prev >= 0:
            self.skb[prev].next = e
        else:
            k.ofo_head = e
        k.rmem_alloc += ts
        self._ofo_merge_right(k, e)
        self._ofo_rcvbuf_grow(k)

    cdef inline void _ofo_rcvbuf_grow(self, Sock* k) noexcept nogil:
        # tcp_data_queue_ofo end (6.16+ "tcp: adjust rcvbuf in presence of
        # reorders"): tcp_rcvbuf_grow(sk, rcvq_space.space), provisioning the
        # out-of-order span; only for a socket the application holds
        # (the sk->sk_socket test: unconfirmed for 6.18, taken from a later
        # tree)
        if self.rcvbuf_variant != RB_PRE_616 and (k.flags & SKF_ACCEPTED):
            self._rcvbuf_grow(k, k.rcvq_space)

    cdef void _ofo_merge_right(self, Sock* k, int32_t e) noexcept nogil:
        cdef int32_t n1
        cdef uint32_t end = self.skb[e].end_seq
        while self.skb[e].next >= 0:
            n1 = self.skb[e].next
            if not seq_after(end, self.skb[n1].seq):
                break
            self._dsack_set(k)                  # tcp_dsack_extend
            if seq_before(end, self.skb[n1].end_seq):
                break
            self.skb[e].next = self.skb[n1].next
            k.rmem_alloc -= self.skb[n1].truesize
            self._skb_put(n1)
            self.ctr[<int>C_TcpExtTCPOFOMerge] += 1

    # --- application reads (pystack.appmodel read policies) -------------------
    cdef void _app_read(self, int32_t s, int64_t n) noexcept nogil:
        """recvmsg of n bytes (<= queued): skbs fully read are freed
        (sk_eat_skb: rmem_alloc -= truesize), then tcp_cleanup_rbuf."""
        cdef Sock* k = &self.dm.socks[s]
        cdef int32_t e
        cdef uint32_t rwin, nw
        cdef bint time_to_ack = False
        cdef uint32_t end
        if n > k.rq_bytes:
            n = k.rq_bytes
        if n <= 0:
            return
        end = k.copied_seq + <uint32_t>n
        k.rq_bytes -= n
        k.read_total += n
        # tcp_recvmsg_locked: copy skb by skb, tcp_rcv_space_adjust after
        # each copy, then free the skb (tcp_eat_recv_skb)
        while k.copied_seq != end:
            e = k.rq_head
            if e >= 0 and seq_after(self.skb[e].end_seq, k.copied_seq) \
                    and seq_before(self.skb[e].end_seq, end):
                k.copied_seq = self.skb[e].end_seq
            else:
                k.copied_seq = end
            self._rcv_space_adjust(k)
            while k.rq_head >= 0:
                e = k.rq_head
                if seq_after(self.skb[e].end_seq, k.copied_seq):
                    break
                k.rq_head = self.skb[e].next
                if k.rq_head < 0:
                    k.rq_tail = -1
                k.rmem_alloc -= self.skb[e].truesize
                self._skb_put(e)
        # tcp_cleanup_rbuf
        if (k.xflags & XF_ACK_SCHED) and <uint32_t>(k.rcv_nxt - k.rcv_wup) > k.rcv_mss:
            time_to_ack = True
        if not time_to_ack and not (k.xflags & XF_RCV_SHUT):
            rwin = self._rcv_window(k)
            if 2 * rwin <= k.window_clamp:
                nw = <uint32_t>self._raw_window(k, True)
                if nw and nw >= 2 * rwin:
                    time_to_ack = True
        if time_to_ack:
            self._send_ack(s, -1, EV_WINDOW_UPDATE)

    cdef void _read_start(self, int32_t s, int64_t when) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        if L.rd_kind == RD_AS_ARRIVES:
            if k.rq_bytes:
                self._app_read(s, k.rq_bytes)
        elif L.rd_kind == RD_LOG:
            k.read_cur = 0
            self._log_arm(s)
        else:
            self._read_arm(s)

    cdef void _read_arm(self, int32_t s) noexcept nogil:
        """Next read time of the rate / chunk readers (only while data waits)."""
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        cdef int64_t need, t, kk
        if k.heap_pos2 >= 0 or k.rq_bytes == 0 or not (k.flags & SKF_ACCEPTED):
            return
        if L.rd_kind == RD_RATE:
            # when the allowance covers the head skb
            need = k.read_total + <uint32_t>(self.skb[k.rq_head].end_seq - k.copied_seq)
            if need <= k.read_total:
                need = k.read_total + 1
            t = k.accepted_ns + (need * L.rd_per_ns + L.rd_bytes - 1) // L.rd_bytes
            self._tarm(TK_READ, s, t if t > self.now else self.now)
        elif L.rd_kind == RD_CHUNK:
            kk = (self.now - k.accepted_ns + L.rd_per_ns - 1) // L.rd_per_ns
            if kk < k.read_cur:
                kk = k.read_cur
            self._tarm(TK_READ, s, k.accepted_ns + kk * L.rd_per_ns)

    cdef void _log_arm(self, int32_t s) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        cdef int32_t j = k.read_cur
        cdef int64_t t
        while j < L.log_n:
            if (L.log_port[j] < 0 or L.log_port[j] == k.rport) and (
                    not (L.log_rel[j] & 2) or (L.log_addr[2 * j] == k.ra0
                                               and L.log_addr[2 * j + 1] == k.ra1)):
                break
            j += 1
        k.read_cur = j
        if j >= L.log_n:
            return
        t = L.log_t[j] + (k.accepted_ns if (L.log_rel[j] & 1) else 0)
        self._tarm(TK_READ, s, t if t > self.now else self.now)

    cdef void _read_timer(self, int32_t s, int64_t when) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        cdef LSock* L = &self.ls[k.listener]
        cdef int64_t allow
        if L.rd_kind == RD_RATE:
            allow = (when - k.accepted_ns) * L.rd_bytes // L.rd_per_ns - k.read_total
            self._app_read(s, allow)
            self._read_arm(s)
        elif L.rd_kind == RD_CHUNK:
            k.read_cur = <int32_t>((when - k.accepted_ns) // L.rd_per_ns) + 1
            self._app_read(s, L.rd_bytes)
            self._read_arm(s)
        elif L.rd_kind == RD_LOG:
            self._app_read(s, L.log_bytes[k.read_cur])
            k = &self.dm.socks[s]
            k.read_cur += 1
            self._log_arm(s)

    # --- TIME_WAIT (sheet 8.3) --------------------------------------------------
    cdef void _tw_rcv(self, Py_ssize_t i, int32_t s, bint v6, uint64_t s0, uint64_t s1,
                      uint64_t d0, uint64_t d1, uint64_t h) noexcept nogil:
        """tcp_minisocks.c tcp_timewait_state_process (TIME_WAIT substate;
        PAWS included) + tcp_v4_rcv do_time_wait."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef Sock* k = &self.dm.socks[s]
        cdef uint16_t f = c.tcp_flags[i]
        cdef uint32_t seq = c.tcp_seq[i]
        cdef uint32_t end_seq = seq + c.payload_len[i] + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0)
        cdef int32_t li
        cdef uint32_t isn
        cdef int64_t now_s = self.now // 1000000000
        cdef bint saw_ts, paws_rej = False
        v.sock_state[i] = TS_TIME_WAIT
        self._drop(i, DR_NOT_SPECIFIED)
        # options parsed only when tw_ts_recent_stamp is set (timestamps were
        # in use); tcp_parse_options(estab=0): saw_tstamp needs the sysctl
        saw_ts = (k.xflags & XF_TS) != 0 and (c.flags[i] & PF_TCP_TS) != 0 and \
            self.tcp_timestamps != 0
        if saw_ts:
            paws_rej = tcp_paws_reject(k.ts_recent, k.ts_stamp, c.tcp_tsval[i],
                                       (f & TH_RST) != 0, now_s)
        if not paws_rej and seq == k.rcv_nxt and (seq == end_seq or (f & TH_RST)):
            if f & TH_RST:
                if not self.rfc1337:
                    self._tw_kill(s)
                    v.sock_state[i] = TS_CLOSE
                    return
            else:
                self._tarm(TK_TW, s, self.now + self.tw_len_ns)
            if saw_ts:
                k.ts_recent = c.tcp_tsval[i]
                k.ts_stamp = now_s
            return
        if (f & TH_SYN) and not (f & (TH_RST | TH_ACK)) and not paws_rej and (
                seq_after(seq, k.rcv_nxt) or (saw_ts and <int32_t>(k.ts_recent - c.tcp_tsval[i]) < 0)):
            li = self._lookup_listener(v6, d0, d1, c.dport[i], s0, s1, c.sport[i])
            if li >= 0:
                isn = k.snd_nxt + 65535 + 2
                if isn == 0:
                    isn = 1
                if k.rec >= 0:
                    self.rec[k.rec].state = TS_CLOSE
                self._tw_kill(s)
                v.verdict[i] = V_NOT_HOST
                v.reason[i] = 0
                self.tw_isn = isn
                self._listen_rcv(i, li, v6, s0, s1, d0, d1, h)
                self.tw_isn = 0
                return
            # no listener: ACK
        if paws_rej:
            # PAWSTimewait (6.16+; PAWSEstab before), TCP_RFC7323_TW_PAWS
            self.ctr[self.paws_tw_ctr] += 1
            if self.paws_tw_reason:
                v.reason[i] = DR_TCP_RFC7323_TW_PAWS
        if f & TH_RST:
            return
        if paws_rej or (f & TH_ACK):
            self._tarm(TK_TW, s, self.now + self.tw_len_ns)
        if self._oow_limited(k, i, <int>C_TcpExtTCPACKSkippedTimeWait):
            return
        # tcp_v4_timewait_ack -> tcp_v4_send_ack: the timestamp option iff
        # tsecr = tw_ts_recent != 0
        self.ctr[<int>C_TcpOutSegs] += 1
        self._tcp_out(v6, 12 if ((k.xflags & XF_TS) and k.ts_recent != 0) else 0)
        v.reply[i] = R_ACK
        v.reply_seq[i] = k.snd_nxt
        v.reply_ack[i] = k.rcv_nxt
        v.reply_win[i] = <uint16_t>(k.rcv_wnd >> k.rcv_wscale)
        v.reply_flags[i] = TH_ACK

    # --- the host's own segments on a full socket --------------------------------
    cdef void _host_seg(self, Py_ssize_t i, int32_t s) noexcept nogil:
        """Open loop: the host's captured segment.  Sequence space (snd_nxt),
        the host's FIN (FIN_WAIT1 / LAST_ACK), a host RST (tcp_done), and the
        window comparison; a segment carrying data or FIN is an ACK the host
        really sent (tcp_select_window with side effects), a pure ACK is only
        compared with the model's window (the model sends its own ACKs)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef Sock* k = &self.dm.socks[s]
        cdef ConnRec* r
        cdef uint16_t f = c.tcp_flags[i]
        cdef uint32_t seq = c.tcp_seq[i]
        cdef uint32_t plen = c.payload_len[i]
        cdef uint32_t end = seq + plen + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0)
        cdef uint32_t w
        cdef int64_t model, cap
        if k.state == TS_TIME_WAIT or k.rec < 0:
            return
        r = &self.rec[k.rec]
        r.pkts_out += 1
        r.bytes_out += plen
        if c.flags[i] & PF_TCP_TS:
            self._host_ts_seen(k, c.tcp_tsval[i])
        if plen:
            k.mstamp = self.now         # tcp_write_xmit: tcp_mstamp_refresh
        if not (k.xflags & XF_HOST_SEEN):
            k.xflags |= XF_HOST_SEEN
            k.snd_una = seq
            k.snd_nxt = seq
        if seq_after(end, k.snd_nxt):
            k.snd_nxt = end
            if <int64_t>(k.snd_nxt - k.snd_una) > r.max_inflight:
                r.max_inflight = k.snd_nxt - k.snd_una
        if f & TH_RST:
            self.div[DV_HOST_RST] += 1
            r.divs += 1
            self._close(s, CW_RST)
            return
        if (f & TH_ACK) and not (f & TH_SYN):
            cap = <int64_t>c.tcp_win[i] << k.rcv_wscale
            if plen or (f & TH_FIN):
                w = self._select_window(k, True)
                self._ack_sent(s)
                # tcp_event_data_sent: data sent within ato of the last
                # received data -> pingpong (tcp_pingpong_thresh = 1)
                if plen and (k.xflags & XF_ATO) and self.now - k.lrcv_ns < TCP_ATO_MIN_NS:
                    k.xflags |= XF_PINGPONG
            else:
                w = self._select_window(k, False)
            model = <int64_t>w << k.rcv_wscale
            v.adv_win[i] = <uint32_t>model
            v.win_diff[i] = <int32_t>(cap - model)
            v.rcv_queue[i] = <uint32_t>k.rq_bytes
            r.win_cmp += 1
            self.div[DV_WIN_CMP] += 1
            if cap != model:
                r.win_diff += 1
                r.divs += 1
                self.div[DV_WIN_DIFF] += 1
        if (f & TH_FIN) and not (k.xflags & XF_HOST_FIN):
            k.xflags |= XF_HOST_FIN
            k.host_fin_end = end
            if k.state == TS_ESTABLISHED:
                self._set_state(k, TS_FIN_WAIT1)
            elif k.state == TS_CLOSE_WAIT:
                self._set_state(k, TS_LAST_ACK)
        v.sock_state[i] = k.state

    cdef void _pickup(self, Py_ssize_t i, bint v6, uint64_t s0, uint64_t s1, uint64_t d0,
                      uint64_t d1, uint64_t h) noexcept nogil:
        """A host ACK / data segment on a 4-tuple the model does not know, from
        a listening port: the connection predates the capture (or the model
        lost it).  It is picked up as an accepted ESTABLISHED child: rcv_nxt =
        the host's ack, snd_nxt = its end, rcv_wnd = its window scaled by the
        listener's wscale (assumed negotiated), the peer's wscale unknown (0).
        Not a PassiveOpen; CurrEstab counts it while it lives."""
        cdef Batch* c = &self.b
        cdef int32_t li = self._lookup_listener(v6, s0, s1, c.sport[i], d0, d1, c.dport[i])
        cdef int32_t s
        cdef Sock* k
        cdef LSock* L
        if li < 0:
            return
        L = &self.ls[li]
        s = demux_new(&self.dm)
        k = &self.dm.socks[s]
        k.la0 = s0
        k.la1 = s1
        k.ra0 = d0
        k.ra1 = d1
        k.lport = c.sport[i]
        k.rport = c.dport[i]
        k.hash = <uint32_t>h
        k.family = 6 if v6 else 4
        k.listener = li
        k.conn_id = self.next_conn
        self.next_conn += 1
        k.flags = SKF_ACCEPTED | (SKF_WSCALE_OK if L.wscale else 0)
        if (c.flags[i] & PF_TCP_TS) and self.tcp_timestamps:
            # the host's segment carries timestamps: they were negotiated
            k.flags |= SKF_TSTAMP_OK
        k.rcv_wscale = L.wscale
        k.snd_wscale = 0
        k.peer_mss = L.advmss
        k.snt_isn = c.tcp_seq[i] - 1
        k.rsk_rcv_wnd = <uint32_t>c.tcp_win[i] << L.wscale
        k.created_ns = self.now
        demux_insert(&self.dm, s)
        self._child_init(i, li, s)
        k = &self.dm.socks[s]
        k.state = TS_ESTABLISHED
        self.ctr[<int>C_TcpCurrEstab] += 1
        k.rcv_nxt = c.tcp_ack[i]
        k.rcv_wup = k.rcv_nxt
        k.copied_seq = k.rcv_nxt
        k.rcvq_seq = k.copied_seq
        # the connection's past (and the peer's wscale) is unknown: no ACK is
        # too old short of the largest window TCP allows (65535 << 14)
        k.bytes_acked = <int64_t>1 << 62
        k.max_window = <uint32_t>65535 << 14
        if k.flags & SKF_TSTAMP_OK:
            # PAWS: the host echoes tp->rx_opt.ts_recent in every TSecr
            # (tcp_options_write), so the picked-up socket learns the peer's
            # last accepted TSval from the host segment itself; its stamp
            # (ts_recent_stamp) is taken as now
            k.ts_recent = c.tcp_tsecr[i]
            k.ts_stamp = self.now // 1000000000
        k.xflags |= XF_HOST_SEEN | XF_ATO
        k.accepted_ns = self.now
        self.rec[k.rec].picked_up = 1
        self.rec[k.rec].states = <uint32_t>1 << TS_ESTABLISHED
        self.rec[k.rec].accepted_ns = self.now
        self.rec[k.rec].pkts_in = 0
        self.vo.conn_id[i] = k.conn_id
        self.vo.listener[i] = <int16_t>li
        self._host_seg(i, s)

    # --- results -----------------------------------------------------------------
    def take_finished(self, bint copy=True):
        """The records of the connections finished since the last call (one
        row per connection, REC_DTYPE), or None when not `copy`; their slots
        return to the free list either way.  Call once per batch."""
        cdef int64_t n = self.rec_ndone, q = 0
        cdef int32_t j = self.rec_done_head, nx
        cdef cnp.ndarray out = None
        cdef char* dst = NULL
        if copy:
            out = np.empty(n, REC_DTYPE)
            dst = <char*>cnp.PyArray_DATA(out)
        while j >= 0:
            nx = self.rec[j].link
            if copy:
                memcpy(dst + q * sizeof(ConnRec), &self.rec[j], sizeof(ConnRec))
            q += 1
            self.rec[j].link = self.rec_free
            self.rec_free = j
            self.rec_nfree += 1
            j = nx
        self.rec_done_head = -1
        self.rec_done_tail = -1
        self.rec_ndone = 0
        self.rec_emitted += n
        return out

    def open_records(self):
        """A snapshot (REC_DTYPE rows) of the records of the connections still
        open (full sockets and TIME_WAIT minisocks), their zero-window periods
        closed at the current time.  The records stay in the engine."""
        cdef int32_t s
        cdef Sock* k
        cdef ConnRec* r
        cdef int64_t q = 0
        for s in range(<int32_t>self.dm.sock_hw):
            k = &self.dm.socks[s]
            if k.state != TS_NONE and k.state != TS_NEW_SYN_RECV and k.rec >= 0:
                q += 1
        cdef cnp.ndarray out = np.empty(q, REC_DTYPE)
        cdef char* dst = <char*>cnp.PyArray_DATA(out)
        q = 0
        for s in range(<int32_t>self.dm.sock_hw):
            k = &self.dm.socks[s]
            if k.state == TS_NONE or k.state == TS_NEW_SYN_RECV or k.rec < 0:
                continue
            r = &self.rec[k.rec]
            if k.state != TS_TIME_WAIT and k.state != TS_CLOSE:
                if k.xflags & XF_ZW:
                    r.zw_ns += self.now - k.zw_since
                    k.zw_since = self.now
                if k.xflags & XF_PEER_ZW:
                    r.peer_zw_ns += self.now - k.peer_zw_since
                    k.peer_zw_since = self.now
            memcpy(dst + q * sizeof(ConnRec), r, sizeof(ConnRec))
            q += 1
        return out

    def rcv_state(self, int64_t conn_id):
        """The receive-side state of the live full socket `conn_id` (None if
        there is none): buffer, window and autotuning variables under their
        kernel names (rcv_rtt_us = rcv_rtt_est.rtt_us >> 3)."""
        cdef int32_t s
        cdef Sock* k
        for s in range(<int32_t>self.dm.sock_hw):
            k = &self.dm.socks[s]
            if k.conn_id == conn_id and k.state != TS_NONE and k.state != TS_NEW_SYN_RECV \
                    and k.state != TS_TIME_WAIT:
                return {"sk_rcvbuf": int(k.rcvbuf), "rmem_alloc": int(k.rmem_alloc),
                        "window_clamp": int(k.window_clamp),
                        "rcv_ssthresh": int(k.rcv_ssthresh), "rcv_wnd": int(k.rcv_wnd),
                        "scaling_ratio": int(k.scaling_ratio), "rcv_mss": int(k.rcv_mss),
                        "advmss": int(k.advmss), "rcvq_space": int(k.rcvq_space),
                        "rcvq_seq": int(k.rcvq_seq), "rcvq_time_ns": int(k.rcvq_time),
                        "tcp_mstamp_ns": int(k.mstamp),
                        "host_ts_now": int(self._host_ts_now(k)) if k.at_flags & AT_HOST_TS
                        else None, "rcv_rtt_last_tsecr": int(k.rtt_last_tsecr),
                        "ts_tick_ns": (int(k.ts_tick_lo), int(k.ts_tick_hi))
                        if k.at_flags & AT_HOST_TS else None,
                        "rcv_rtt_us": int(k.rtt_us >> 3), "rcv_rtt_us8": int(k.rtt_us),
                        "copied_seq": int(k.copied_seq), "rcv_nxt": int(k.rcv_nxt),
                        "snd_una": int(k.snd_una), "snd_nxt": int(k.snd_nxt),
                        "max_window": int(k.max_window), "bytes_acked": int(k.bytes_acked)}
        return None

    def record_stats(self):
        """The connection-record pool: live records, their maximum, slots
        ever used (high_water), capacity, free slots, records emitted."""
        return {"live": int(self.rec_live), "max_live": int(self.rec_live_max),
                "high_water": int(self.rec_hw), "capacity": int(self.rec_cap),
                "free": int(self.rec_nfree), "pending": int(self.rec_ndone),
                "emitted": int(self.rec_emitted)}

    def time_wait_count(self):
        return int(self.tw_count)

    # --- the host's own packets ---------------------------------------------
    cdef void _host_tx(self, Py_ssize_t i, bint v6, int32_t s) noexcept nogil:
        """Transmit-side counters of a captured host packet (s: its socket or
        -1), so that every packet the host sends is counted exactly once.
        Kinds the model sends itself are counted where the model sends them
        and never here: SYN-ACKs, pure ACKs on a 4-tuple the model holds, RSTs
        except on a full socket, ICMP echo replies and port unreachables.
        Everything else the host sent is only observed and counted here with
        its captured IP length: data and FIN segments (tcp_transmit_skb:
        OutSegs for new sequence space, else tcp_retransmit_skb's
        RetransSegs), a RST on a full socket (tcp_send_active_reset: OutRsts
        + OutSegs), zero-window / keepalive probes (tcp_xmit_probe_skb, seq =
        snd_una - 1), segments on 4-tuples the model does not hold (active
        opens), UDP (udp_send_skb: OutDatagrams), other ICMP (icmp_out_count:
        OutMsgs + the type's counter), any other protocol (IP counters only).
        Fragments: ip_fragment -> OutRequests once per datagram (the first
        fragment), OutTransmits / OutOctets per fragment.  An outgoing packet
        whose source is not the host's (forwarded, seen on the egress side)
        is not counted: forwarding is classified only."""
        cdef Batch* c = &self.b
        cdef uint32_t fl = c.flags[i]
        cdef int64_t length = c.ip_len[i]
        cdef uint8_t proto = c.ip_proto[i]
        cdef uint16_t f
        cdef uint32_t seq, end, plen
        cdef uint8_t t
        cdef uint64_t a0, a1
        cdef Sock* k = NULL
        load_addr(c.saddr + 16 * i, &a0, &a1)
        if not self._is_local(a0, a1, c.saddr + 16 * i):
            return
        if fl & PF_FRAG_LATER:
            if v6:
                self.ctr[<int>C_Ip6OutTransmits] += 1
                self.ctr[<int>C_Ip6OutOctets] += length
            else:
                self.ctr[<int>C_IpOutTransmits] += 1
                self.ctr[<int>C_IpExtOutOctets] += length
            return
        if proto == 6 and (fl & PF_L4) and not (fl & PF_FRAG):
            f = c.tcp_flags[i]
            if (f & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK):
                return
            if s >= 0:
                k = &self.dm.socks[s]
            seq = c.tcp_seq[i]
            plen = c.payload_len[i]
            if f & TH_RST:
                if k == NULL or k.state == TS_NEW_SYN_RECV or k.state == TS_TIME_WAIT:
                    return
                self.ctr[<int>C_TcpOutRsts] += 1
                self.ctr[<int>C_TcpOutSegs] += 1
            elif plen == 0 and not (f & (TH_SYN | TH_FIN)):
                if k != NULL and (f & TH_ACK) and not (
                        k.state != TS_NEW_SYN_RECV and (k.xflags & XF_HOST_SEEN)
                        and seq + 1 == k.snd_una):
                    return
                self.ctr[<int>C_TcpOutSegs] += 1
            else:
                end = seq + plen + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0)
                # __tcp_transmit_skb: OutSegs only if after(end_seq, snd_nxt)
                if k != NULL and k.state != TS_NEW_SYN_RECV and (
                        k.state == TS_TIME_WAIT or (k.xflags & XF_HOST_SEEN)) \
                        and not seq_after(end, k.snd_nxt):
                    self.ctr[<int>C_TcpRetransSegs] += 1
                else:
                    self.ctr[<int>C_TcpOutSegs] += 1
        elif proto == 1 and not v6 and (fl & PF_L4):
            t = c.icmp_type[i]
            if t == 0 or (t == 3 and c.icmp_code[i] == 3):
                return
            self.ctr[<int>C_IcmpOutMsgs] += 1
            if t == 3:
                self.ctr[<int>C_IcmpOutDestUnreachs] += 1
        elif proto == 58 and v6 and (fl & PF_L4):
            # the model's own replies (icmpv6_echo_reply, icmp6_send port
            # unreachable) are counted where it sends them
            t = c.icmp_type[i]
            if t == 129 or (t == 1 and c.icmp_code[i] == 4):
                return
            self.ctr[<int>C_Icmp6OutMsgs] += 1
            if t == 1:
                self.ctr[<int>C_Icmp6OutDestUnreachs] += 1
                self.ctr[<int>C_Icmp6OutType1] += 1
        elif proto == 17:
            self.ctr[<int>C_Udp6OutDatagrams if v6 else <int>C_UdpOutDatagrams] += 1
        self._ip_out(v6, length)
    # ------------------------------------------------------------------
    # netfilter hook points (attach_netfilter)
    #
    # net/netfilter/core.c nf_hook_slow, net/ipv4/ip_input.c ip_rcv /
    # ip_rcv_finish / ip_local_deliver, net/ipv4/ip_forward.c ip_forward,
    # net/ipv6/ip6_output.c ip6_forward, net/ipv4/ip_output.c ip_local_out /
    # ip_output; hook order of sheet 2.1 (PRE_ROUTING raw -> conntrack ->
    # mangle -> nat; LOCAL_IN mangle -> filter -> security -> nat -> confirm;
    # FORWARD mangle -> filter -> security; LOCAL_OUT raw -> conntrack ->
    # mangle -> nat -> filter -> security; POST_ROUTING mangle -> nat ->
    # confirm).  Not modelled: the routing table (a destination that is not
    # the host's is forwarded when ip_forward=1; the output interface of a
    # forwarded packet is unknown: oif -1, so `-o X` never matches and
    # `! -o X` always does), the security table's SELinux side, defrag (IP
    # fragments are held before the hooks, V_QUEUED, as without netfilter),
    # LOCAL_OUT reroute after DNAT, conntrack helpers / expectations.
    # ------------------------------------------------------------------
    cdef inline uint16_t _nf_rtn(self, const uint8_t* a, bint v6) noexcept nogil:
        """1 << RTN_* of an address (column form) for -m addrtype: the
        host's addresses LOCAL, multicast / limited broadcast, else UNICAST
        (no routing table: subnet broadcasts are not recognised)."""
        cdef uint64_t w0, w1
        load_addr(a, &w0, &w1)
        return _rtn_of(a, v6, self._is_local(w0, w1, a))

    cdef inline void _nf_fill(self, Py_ssize_t i, bint v6) noexcept nogil:
        """NfPkt of row i as the hooks see it (captured tuple).  Inline: its
        two callers run it once per packet."""
        cdef Batch* c = &self.b
        cdef NfCols* x = &self.nfc
        cdef NfPkt* p = &self.nfp
        cdef uint32_t fl = c.flags[i]
        cdef uint8_t proto = c.ip_proto[i]
        cdef uint32_t ifc
        cdef int k
        cdef uint32_t r
        cdef VOut* v = &self.vo
        # the row's result columns: the deciding rule is written by
        # _nf_table_run, the rest by _nf_done (every hook path ends there)
        v.nf_rule[i] = -1
        v.nf_hook[i] = -1
        v.nf_table[i] = -1
        self.nf_last = i
        # every field is assigned below instead of a memset of the whole
        # struct; the conntrack view's tuples (ct_orig_* / ct_repl_*) are
        # only read with p.ct >= 0, and whoever sets p.ct writes them
        # (_fill_view, _nf_attached_ct), the in_* fields only with has_inner
        p.mark = 0
        p.ct = -1
        p.ctstate = 0
        p.ctdir = 0
        p.ctstatus = 0
        p.ctmark = 0
        p.nat_changed = 0
        p.family = 6 if v6 else 4
        p.proto = proto
        p.frag = 1 if (fl & PF_FRAG_LATER) else 0
        p.has_l4 = 1 if ((fl & PF_L4) and not (fl & PF_FRAG_LATER)) else 0
        _nf_addr(c.saddr + 16 * i, v6, p.saddr)
        _nf_addr(c.daddr + 16 * i, v6, p.daddr)
        if proto == 1 or proto == 58:
            p.sport = 0
            p.dport = c.sport[i]            # echo id: conntrack's tuple reads dport
        else:
            p.sport = c.sport[i]
            p.dport = c.dport[i]
        p.tcp_flags = c.tcp_flags[i]
        p.icmp_type = c.icmp_type[i]
        p.icmp_code = x.icmp_code[i]
        p.len = c.ip_len[i]
        ifc = x.iface[i] if x.iface != NULL else 0
        p.iif = self.nf_ifmap[ifc] if ifc < <uint32_t>self.nf_nifmap else -1
        p.oif = -1
        # src_type / dst_type: 0 = not known yet; _nf_table_run fills them
        # for a table with an -m addrtype match (most packets never meet one)
        p.src_type = 0
        p.dst_type = 0
        p.l4_csum_bad = 1 if self.csum_err[i] else 0
        p.tcp_wscale = 0xff
        p.tcp_sack_right = 0
        if proto == 6:
            p.tcp_seq = c.tcp_seq[i]
            p.tcp_ack = c.tcp_ack[i]
            p.tcp_win = c.tcp_win[i]
            if fl & PF_TCP_WSCALE:
                p.tcp_wscale = c.tcp_wscale[i]
            p.tcp_sackok = 1 if (fl & PF_TCP_SACKOK) else 0
            p.tcp_nsack = x.tcp_nsack[i]
            if p.tcp_nsack:                 # most segments carry no SACK block
                p.tcp_sack_right = x.tcp_sack[8 * i + 1]
                for k in range(1, p.tcp_nsack if p.tcp_nsack <= 4 else 4):
                    r = x.tcp_sack[8 * i + 2 * k + 1]
                    if seq_after(r, p.tcp_sack_right):
                        p.tcp_sack_right = r
        else:
            p.tcp_seq = 0
            p.tcp_ack = 0
            p.tcp_win = 0
            p.tcp_sackok = 0
            p.tcp_nsack = 0
        p.l4_paylen = c.payload_len[i]
        p.has_inner = 0
        if fl & PF_ICMP_INNER:
            p.has_inner = 1
            p.in_proto = x.in_proto[i]
            _nf_addr(x.in_saddr + 16 * i, v6, p.in_saddr)
            _nf_addr(x.in_daddr + 16 * i, v6, p.in_daddr)
            p.in_sport = x.in_sport[i]
            p.in_dport = x.in_dport[i]

    cdef inline bint _nf_has_table(self, int hook, int table) noexcept nogil:
        """The ruleset of the packet's family has `table` at `hook` (else
        ipt_do_table never runs: most hooks of most rulesets)."""
        return (self.nf_tmask[self.nfp.family == 6] >> (table * 5 + hook)) & 1

    cdef inline int _nf_table(self, Py_ssize_t i, int hook, int table) noexcept nogil:
        """One iptables table at one hook (ipt_do_table); MARK / CONNMARK
        results carried to the packet / entry.  Returns NFV_*.  Without the
        table only the results read after an ACCEPT are reset: notrack (raw)
        and nat (nat); verdict / rule / reject are read only after a run."""
        cdef NfResult* out
        if not self._nf_has_table(hook, table):
            out = &self.nfres
            out.nat = 0
            out.notrack = 0
            return NFV_ACCEPT
        return self._nf_table_run(i, hook, table)

    cdef void _nf_addrtypes(self) noexcept nogil:
        """xt_addrtype.c addrtype_mt_v1: the route types of the packet's
        current (possibly NAT-rewritten) addresses; whether a captured one
        is the host's, _row looked up already (nf_slocal / nf_dlocal)."""
        cdef NfPkt* p = &self.nfp
        cdef bint six = p.family == 6
        cdef uint8_t col[16]
        _col_addr(p.saddr, six, col)
        if (self.nf_chg & NAT_CHG_SADDR) or self.nf_slocal < 0:
            p.src_type = self._nf_rtn(col, six)
        else:
            p.src_type = _rtn_of(col, six, self.nf_slocal)
        _col_addr(p.daddr, six, col)
        if (self.nf_chg & NAT_CHG_DADDR) or self.nf_dlocal < 0:
            p.dst_type = self._nf_rtn(col, six)
        else:
            p.dst_type = _rtn_of(col, six, self.nf_dlocal)

    cdef int _nf_table_run(self, Py_ssize_t i, int hook, int table) noexcept nogil:
        cdef NfPkt* p = &self.nfp
        cdef NfResult* out = &self.nfres
        cdef uint32_t ctmark = p.ctmark
        if p.family == 6:
            if p.src_type == 0 and (self.nf_r6.addrtype_tables >> table) & 1:
                self._nf_addrtypes()
            self.nf_r6.do_table(p, hook, table, out, &self.nf_r6.rng)
        else:
            if p.src_type == 0 and (self.nf_r4.addrtype_tables >> table) & 1:
                self._nf_addrtypes()
            self.nf_r4.do_table(p, hook, table, out, &self.nf_r4.rng)
        if p.ctmark != ctmark and p.ct >= 0:
            self.nf_ct.set_mark(p, p.ctmark)
        if out.rule >= 0:
            self.vo.nf_rule[i] = out.rule
            self.vo.nf_hook[i] = <int8_t>hook
            self.vo.nf_table[i] = <int8_t>table
        return out.verdict

    cdef const uint8_t* _nf_src_for(self, const uint8_t* dst, int family) noexcept nogil:
        """The host address a MASQUERADE'd packet leaves with: inet_select_addr
        on the output device, approximated (no routing table) by the host
        address of the family sharing the longest prefix with the
        destination.  NULL: the host has no address of that family."""
        cdef int32_t k, best = -1, bestlen = -1, n, b, nb = 4 if family == 4 else 16
        cdef const uint8_t* a
        cdef uint8_t d
        for k in range(self.nf_naddr):
            a = self.nf_addrs + 17 * k
            if a[16] != family:
                continue
            n = 0
            for b in range(nb):
                d = a[b] ^ dst[b]
                if d == 0:
                    n += 8
                    continue
                while not (d & 0x80):
                    n += 1
                    d = <uint8_t>(d << 1)
                break
            if n > bestlen:
                bestlen = n
                best = k
        if best < 0:
            return NULL
        return self.nf_addrs + 17 * best

    cdef inline int _nf_nat(self, Py_ssize_t i, int hook) noexcept nogil:
        """nf_nat_inet_fn at a NAT hook.  Returns NFV_*.  Inline: the common
        case, an entry past NEW / RELATED (no binding to set up:
        nat_needed False) that has no NAT binding (nf_nat_packet rewrites
        only with IPS_SRC_NAT / IPS_DST_NAT in its status), changes
        nothing and costs no call."""
        cdef NfPkt* p = &self.nfp
        if p.ct < 0:
            return NFV_ACCEPT
        if not (p.ctstate & (CTS_NEW | CTS_RELATED)) and \
                not (self.nf_ct.e[p.ct].status & (IPS_SRC_NAT | IPS_DST_NAT)):
            p.nat_changed = 0               # as nat_packet leaves it
            return NFV_ACCEPT
        return self._nf_nat_run(i, hook)

    cdef int _nf_nat_run(self, Py_ssize_t i, int hook) noexcept nogil:
        """nf_nat_inet_fn at a NAT hook: the nat table only for a new
        connection whose manip is not set up yet (then the binding, or the
        null binding), then nf_nat_packet.  Returns NFV_*."""
        cdef NfPkt* p = &self.nfp
        cdef int manip = NF_NAT_MANIP_SRC if (hook == NF_INET_POST_ROUTING
                                              or hook == NF_INET_LOCAL_IN) else NF_NAT_MANIP_DST
        cdef const uint8_t* ma = NULL
        cdef NfResult* out = &self.nfres
        cdef uint8_t lo[16]
        if p.ct < 0:
            return NFV_ACCEPT
        if ct_nat_needed(self.nf_ct, p, manip):
            if self._nf_table(i, hook, NFT_NAT) == NFV_DROP:
                return NFV_DROP
            if out.nat != NAT_NONE:
                if out.nat == NAT_MASQUERADE:
                    # nf_nat_masquerade_ipv4/ipv6: no address -> NF_DROP
                    ma = self._nf_src_for(p.daddr, p.family)
                    if ma == NULL:
                        return NFV_DROP
                elif out.nat == NAT_REDIRECT:
                    # nf_nat_redirect_ipv4/ipv6: LOCAL_OUT -> loopback;
                    # PRE_ROUTING -> an address of the input device (here:
                    # the host address nearest the source)
                    if hook == NF_INET_LOCAL_OUT:
                        memset(lo, 0, 16)
                        if p.family == 4:
                            lo[0] = 127
                            lo[3] = 1
                        else:
                            lo[15] = 1
                        ma = lo
                    else:
                        ma = self._nf_src_for(p.saddr, p.family)
                        if ma == NULL:
                            return NFV_DROP
                self.nf_ct.nat_setup(p, manip, &out.range, ma)
                self.nf_any_nat = True
            else:
                self.nf_ct.nat_setup(p, manip, NULL, NULL)
        ct_nat_packet(self.nf_ct, p, hook)
        if p.nat_changed & (NAT_CHG_SADDR | NAT_CHG_DADDR):
            # -m addrtype after DNAT / SNAT sees the rewritten addresses
            # (recomputed by _nf_table_run when a table needs them)
            p.src_type = 0
            p.dst_type = 0
        self.nf_chg |= p.nat_changed
        return NFV_ACCEPT

    cdef inline bint _nf_has_nat(self, int family) noexcept nogil:
        return self.nf_nat6 if family == 6 else self.nf_nat4

    cdef int _nf_drop(self, Py_ssize_t i, bint dead_ct) noexcept nogil:
        """NF_DROP: kfree_skb_reason(NETFILTER_DROP); an unconfirmed entry
        dies with the packet (nf_ct_put of a never-confirmed conntrack)."""
        if dead_ct and self.nfp.ct >= 0:
            ct_discard(self.nf_ct, &self.nfp)
        self._drop(i, DR_NETFILTER_DROP)
        self._nf_done(i)
        return 0

    cdef void _nf_done(self, Py_ssize_t i) noexcept nogil:
        """The conntrack view and NAT result columns of row i (all of them:
        no defaults were written before)."""
        cdef NfPkt* p = &self.nfp
        cdef VOut* v = &self.vo
        cdef uint16_t st = p.ctstate
        cdef uint8_t e = _CTV_OF[(st & 15) | ((st & CTS_UNTRACKED) >> 2)]
        if p.ct >= 0 and p.ctdir:
            e |= CTV_REPLY
        v.ctstate[i] = e
        v.ct_id[i] = p.ct
        v.nat_chg[i] = self.nf_chg
        if self.nf_chg:
            _col_addr(p.saddr, p.family == 6, v.nat_saddr + 16 * i)
            _col_addr(p.daddr, p.family == 6, v.nat_daddr + 16 * i)
            if p.proto == 1 or p.proto == 58:
                v.nat_sport[i] = p.dport         # echo id (the sport column's place)
                v.nat_dport[i] = 0
            else:
                v.nat_sport[i] = p.sport
                v.nat_dport[i] = p.dport
        else:
            memset(v.nat_saddr + 16 * i, 0, 16)
            memset(v.nat_daddr + 16 * i, 0, 16)
            v.nat_sport[i] = 0
            v.nat_dport[i] = 0

    cdef void _nf_reject(self, Py_ssize_t i, uint8_t kind) noexcept nogil:
        """ipt_REJECT reject_tg / ip6t_REJECT reject_tg6 after NF_DROP was
        decided: the model's reply.  tcp-reset: nf_reject_ipv4.c
        nf_send_reset (nf_reject_ip_tcphdr_put: seq = the offending ACK's
        ack_seq, else 0 with RST|ACK acking seq + SYN + FIN + payload; not
        for RST, not for a bad checksum) sent with ip_local_out: no TCP MIB
        (TcpOutRsts / TcpOutSegs stay; the recorded scenario nf-input-rules
        shows only IpOutRequests).  ICMP kinds: nf_send_unreach -> icmp_send
        (ICMP rate limits, IcmpOutMsgs + IcmpOutDestUnreachs); not for a
        non-first fragment nor a bad L4 checksum (nf_reject_verify_csum).
        IPv6: nf_reject_ipv6.c nf_send_reset6 (ip6_local_out, 40 + 20 bytes,
        no Ip6OutRequests) and nf_send_unreach6 -> icmpv6_send (icmp6_send's checks and ICMPv6
        rate limits, Icmp6 counters: _icmp6_dest_unreach).  Every reply is
        transmitted once (OutTransmits, OutOctets; OutRequests but for the
        IPv6 RST)."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef NfPkt* p = &self.nfp
        cdef uint16_t f
        cdef uint8_t code
        cdef uint64_t s0, s1
        if p.frag:
            return
        if kind == REJ_TCP_RESET or kind == REJ6_TCP_RESET:
            if p.proto != 6 or not p.has_l4 or p.l4_csum_bad:
                return
            f = c.tcp_flags[i]
            if f & TH_RST:
                return
            self._nf_rej_note(i)
            # nf_reject_iphdr_put + nf_reject_ip_tcphdr_put: a bare 20-byte
            # TCP header, no options.  IPv4: ip_local_out (__ip_local_out
            # counts OutRequests).  IPv6: ip6_local_out, and __ip6_local_out
            # counts no OutRequests (output_core.c; ip6_xmit, __ip6_make_skb
            # and ndisc_send_skb count it themselves): only
            # ip6_finish_output2's OutTransmits + OutOctets
            if p.family == 6:
                self.ctr[<int>C_Ip6OutTransmits] += 1
                self.ctr[<int>C_Ip6OutOctets] += 60
            else:
                self._tcp_out(False, 0)
            v.reply[i] = R_RST
            v.reply_win[i] = 0
            if f & TH_ACK:
                v.reply_seq[i] = c.tcp_ack[i]
                v.reply_ack[i] = 0
                v.reply_flags[i] = TH_RST
            else:
                v.reply_seq[i] = 0
                v.reply_ack[i] = (c.tcp_seq[i] + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0)
                                  + c.payload_len[i])
                v.reply_flags[i] = TH_RST | TH_ACK
            return
        if p.l4_csum_bad and (p.proto == 6 or p.proto == 17 or p.proto == 1
                              or p.proto == 58):
            return
        if kind >= REJ6_ICMP6_NO_ROUTE:
            # enum ip6t_reject_with -> ICMPV6_DEST_UNREACH codes (ip6t_REJECT.c)
            if kind == REJ6_ICMP6_ECHOREPLY:
                return
            code = 0
            if kind == REJ6_ICMP6_ADM_PROHIBITED:
                code = 1
            elif kind == REJ6_ICMP6_NOT_NEIGHBOUR:
                code = 2
            elif kind == REJ6_ICMP6_ADDR_UNREACH:
                code = 3
            elif kind == REJ6_ICMP6_PORT_UNREACH:
                code = 4
            elif kind == REJ6_ICMP6_POLICY_FAIL:
                code = 5
            elif kind == REJ6_ICMP6_REJECT_ROUTE:
                code = 6
            load_addr(c.saddr + 16 * i, &s0, &s1)
            if self._icmp6_dest_unreach(i, s0, s1, code, <int64_t>c.ip_len[i]):
                v.reply[i] = R_ICMP6_UNREACH
                v.reply_flags[i] = code
            return
        if kind == REJ_ICMP_ECHOREPLY:
            return                           # ipt_REJECT: "Doesn't happen"
        code = 3
        if kind == REJ_ICMP_NET_UNREACHABLE:
            code = 0
        elif kind == REJ_ICMP_HOST_UNREACHABLE:
            code = 1
        elif kind == REJ_ICMP_PROT_UNREACHABLE:
            code = 2
        elif kind == REJ_ICMP_NET_PROHIBITED:
            code = 9
        elif kind == REJ_ICMP_HOST_PROHIBITED:
            code = 10
        elif kind == REJ_ICMP_ADMIN_PROHIBITED:
            code = 13
        load_addr(c.saddr + 16 * i, &s0, &s1)
        if self._icmp_xmit_allowed(3, s0, s1, self._is_local(s0, s1, c.saddr + 16 * i)):
            self.ctr[<int>C_IcmpOutMsgs] += 1
            self.ctr[<int>C_IcmpOutDestUnreachs] += 1
            # __icmp_send quotes the offending datagram as it stands at the
            # hook (ip_rcv_core trimmed it to tot_len), at most 548 bytes
            self._ip_out(False, 28 + (c.ip_len[i] if c.ip_len[i] < 548 else 548))
            v.reply[i] = R_ICMP_PORT_UNREACH if code == 3 else R_ICMP_UNREACH
            v.reply_flags[i] = code

    cdef inline uint64_t _nf_rst_fp(self, const uint8_t* sa, const uint8_t* da, uint16_t sp,
                                    uint16_t dp, uint32_t seq, uint32_t ack) noexcept nogil:
        cdef uint64_t s0, s1, d0, d1
        load_addr(sa, &s0, &s1)
        load_addr(da, &d0, &d1)
        return mix64(tuple_hash(self.dm.seed, s0, s1, d0, d1, sp, dp)
                     ^ ((<uint64_t>seq << 32) | ack)) | 1

    cdef void _nf_rej_note(self, Py_ssize_t i) noexcept nogil:
        """Remember the RST nf_send_reset builds for row i (reversed tuple,
        its seq / ack), so that the host's copy in the capture is known as
        carrying the offending packet's conntrack (nf_ct_attach)."""
        cdef Batch* c = &self.b
        cdef uint16_t f = c.tcp_flags[i]
        cdef uint32_t seq = 0, ack = 0
        cdef uint64_t fp
        if f & TH_ACK:
            seq = c.tcp_ack[i]
        else:
            ack = (c.tcp_seq[i] + ((f & TH_SYN) != 0) + ((f & TH_FIN) != 0) + c.payload_len[i])
        fp = self._nf_rst_fp(c.daddr + 16 * i, c.saddr + 16 * i, c.dport[i], c.sport[i], seq, ack)
        self.nf_rej[fp & 255] = fp

    cdef inline bint _nf_attached(self, Py_ssize_t i) noexcept nogil:
        """A host packet that carries another packet's conntrack: an ICMP
        error (icmp.c icmp_glue_bits: nf_ct_attach of the offending skb) or
        the RST of a REJECT tcp-reset (nf_reject_ipv4.c nf_send_reset:
        nf_ct_attach).  nf_conntrack_in then leaves it alone (no lookup, no
        stats) and confirm skips it (reply direction).  Inline up to the
        RST's fingerprint (_nf_rst_attached)."""
        cdef Batch* c = &self.b
        cdef uint8_t proto = c.ip_proto[i]
        if proto == 1:
            return (c.flags[i] & PF_ICMP_INNER) != 0
        if proto == 58:
            return (c.flags[i] & PF_ICMP_INNER) != 0 and c.icmp_type[i] < 128
        if proto != 6 or not (c.tcp_flags[i] & TH_RST):
            return False
        return self._nf_rst_attached(i)

    cdef bint _nf_rst_attached(self, Py_ssize_t i) noexcept nogil:
        """A TCP RST of the host that is the model's REJECT tcp-reset (its
        fingerprint in nf_rej, which it leaves)."""
        cdef Batch* c = &self.b
        cdef uint64_t fp
        fp = self._nf_rst_fp(c.saddr + 16 * i, c.daddr + 16 * i, c.sport[i], c.dport[i],
                             c.tcp_seq[i], c.tcp_ack[i] if (c.tcp_flags[i] & TH_ACK) else 0)
        if self.nf_rej[fp & 255] != fp:
            return False
        self.nf_rej[fp & 255] = 0
        return True

    cdef void _nf_attached_ct(self, Py_ssize_t i, bint v6) noexcept nogil:
        """The conntrack an ICMP error carries: the offending packet's (its
        inner header), if the model still has it; nf_conntrack_attach makes
        the error RELATED in the opposite direction."""
        cdef NfPkt* p = &self.nfp
        cdef CtTuple t
        cdef int32_t n
        if not p.has_inner or (p.in_proto != 6 and p.in_proto != 17):
            return
        memset(&t, 0, sizeof(CtTuple))
        memcpy(t.src, p.in_saddr, 16)
        memcpy(t.dst, p.in_daddr, 16)
        t.sport = p.in_sport
        t.dport = p.in_dport
        t.proto = p.in_proto
        t.family = p.family
        n = self.nf_ct._find(&t, -1)
        if n < 0:
            return
        # as a fresh NfPkt: no conntrack view tuples (not filled here)
        memset(p.ct_orig_src, 0, 4 * 16)
        p.ct_orig_sport = p.ct_orig_dport = p.ct_repl_sport = p.ct_repl_dport = 0
        p.ct = n >> 1
        p.ctdir = 1 if (n & 1) == 0 else 0

    cdef inline int _nf_chain(self, Py_ssize_t i, int hook, int t0, int t1, int t2) noexcept nogil:
        """Up to three iptables tables in priority order at one hook (-1:
        none); NF_DROP (REJECT: reply first) stops the traversal.  Inline
        with constant tables: straight-line tests of one word of nf_tmask."""
        cdef uint32_t tm
        if PH_UNLIKELY(self.ph_hmask & (1u << hook)):
            return self._ph_chain(i, hook, t0, t1, t2)
        tm = self.nf_tmask[self.nfp.family == 6] >> hook
        if t0 >= 0 and (tm >> (t0 * 5)) & 1 and self._nf_chain_run(i, hook, t0) == NFV_DROP:
            return NFV_DROP
        if t1 >= 0 and (tm >> (t1 * 5)) & 1 and self._nf_chain_run(i, hook, t1) == NFV_DROP:
            return NFV_DROP
        if t2 >= 0 and (tm >> (t2 * 5)) & 1 and self._nf_chain_run(i, hook, t2) == NFV_DROP:
            return NFV_DROP
        return NFV_ACCEPT

    cdef inline int _nf_chain_run(self, Py_ssize_t i, int hook, int t) noexcept nogil:
        if self._nf_table_run(i, hook, t) == NFV_DROP:
            if self.nfres.reject:
                self._nf_reject(i, self.nfres.reject)
            return NFV_DROP
        return NFV_ACCEPT

    cdef int _nf_post_routing(self, Py_ssize_t i) noexcept nogil:
        """POST_ROUTING: mangle -> nat (SRC) -> confirm.  Returns NFV_*
        (on NF_DROP the row is finished)."""
        cdef uint32_t ph = self.ph_hmask      # Python hooks per hook (kept in a register)
        self.vo.nf_hooks[i] |= 1 << NF_INET_POST_ROUTING
        if PH_UNLIKELY(ph & (1u << NF_INET_POST_ROUTING)) and \
                self._ph(i, NF_INET_POST_ROUTING, PH_MIN, NF_IP_PRI_MANGLE) == NFV_DROP:
            self._nf_drop(i, True)
            return NFV_DROP
        if self._nf_chain(i, NF_INET_POST_ROUTING, NFT_MANGLE, -1, -1) == NFV_DROP:
            self._nf_drop(i, True)
            return NFV_DROP
        if PH_UNLIKELY(ph & (1u << NF_INET_POST_ROUTING)) and \
                self._ph(i, NF_INET_POST_ROUTING, NF_IP_PRI_MANGLE, NF_IP_PRI_NAT_SRC) == NFV_DROP:
            self._nf_drop(i, True)
            return NFV_DROP
        if self._nf_has_nat(self.nfp.family):
            if self._nf_nat(i, NF_INET_POST_ROUTING) == NFV_DROP:
                self._nf_drop(i, True)
                return NFV_DROP
        if PH_UNLIKELY(ph & (1u << NF_INET_POST_ROUTING)) and \
                self._ph(i, NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC, PH_END) == NFV_DROP:
            self._nf_drop(i, True)
            return NFV_DROP
        if ct_confirm(self.nf_ct, &self.nfp, self.now) == NFV_DROP:
            self._nf_drop(i, False)
            return NFV_DROP
        return NFV_ACCEPT

    cdef bint _nf_input(self, Py_ssize_t i, bint v6) noexcept nogil:
        """From ip_rcv (after ip_rcv_core's checks): PRE_ROUTING, the routing
        decision on the (DNAT-rewritten) destination, then LOCAL_IN (True:
        go on with local delivery, the row's columns hold the post-NAT
        tuple) or the forward path / IP_INADDRERRORS (False: row finished)."""
        cdef uint32_t ph = self.ph_hmask      # Python hooks per hook (kept in a register)
        cdef uint32_t hk = self.nf_hk[v6]
        cdef NfPkt* p = &self.nfp
        cdef VOut* v = &self.vo
        cdef int notrack = 0
        cdef uint8_t a[16]
        cdef uint64_t w0, w1
        cdef bint local
        self._nf_fill(i, v6)
        self.nf_chg = 0
        v.nf_hooks[i] = 1 << NF_INET_PRE_ROUTING
        # hk: the hooks with a table or Python hook besides nat; without,
        # a hook's gaps and tables are skipped with one test
        if hk & (1u << NF_INET_PRE_ROUTING):
            if PH_UNLIKELY(ph & (1u << NF_INET_PRE_ROUTING)) and \
                    self._ph(i, NF_INET_PRE_ROUTING, PH_MIN, NF_IP_PRI_RAW) == NFV_DROP:
                return self._nf_drop(i, False)
            # raw (-300)
            if self._nf_table(i, NF_INET_PRE_ROUTING, NFT_RAW) == NFV_DROP:
                return self._nf_drop(i, False)
            notrack = self.nfres.notrack
            if PH_UNLIKELY(ph & (1u << NF_INET_PRE_ROUTING)) and \
                    self._ph(i, NF_INET_PRE_ROUTING, NF_IP_PRI_RAW, NF_IP_PRI_CONNTRACK) == NFV_DROP:
                return self._nf_drop(i, False)
        # conntrack (-200)
        if self.nf_ct.conntrack_in(p, NF_INET_PRE_ROUTING, self.now, notrack) == NFV_DROP:
            return self._nf_drop(i, False)
        if hk & (1u << NF_INET_PRE_ROUTING):
            if PH_UNLIKELY(ph & (1u << NF_INET_PRE_ROUTING)) and \
                    self._ph(i, NF_INET_PRE_ROUTING, NF_IP_PRI_CONNTRACK, NF_IP_PRI_MANGLE) == NFV_DROP:
                return self._nf_drop(i, True)
            # mangle (-150), nat DNAT (-100)
            if self._nf_table(i, NF_INET_PRE_ROUTING, NFT_MANGLE) == NFV_DROP:
                return self._nf_drop(i, True)
            if PH_UNLIKELY(ph & (1u << NF_INET_PRE_ROUTING)) and \
                    self._ph(i, NF_INET_PRE_ROUTING, NF_IP_PRI_MANGLE, NF_IP_PRI_NAT_DST) == NFV_DROP:
                return self._nf_drop(i, True)
        if self._nf_has_nat(p.family):
            if self._nf_nat(i, NF_INET_PRE_ROUTING) == NFV_DROP:
                return self._nf_drop(i, True)
        if PH_UNLIKELY(ph & (1u << NF_INET_PRE_ROUTING)) and \
                self._ph(i, NF_INET_PRE_ROUTING, NF_IP_PRI_NAT_DST, PH_END) == NFV_DROP:
            return self._nf_drop(i, True)
        # ip_rcv_finish: the route of the destination as it is now (the
        # captured one, classified by _row, unless DNAT rewrote it)
        if (self.nf_chg & NAT_CHG_DADDR) or self.nf_dlocal < 0:
            _col_addr(p.daddr, v6, a)
            load_addr(a, &w0, &w1)
            local = self._is_local(w0, w1, a)
        else:
            local = self.nf_dlocal
        if not local:
            self._nf_forward(i, v6)
            return False
        # ip_local_deliver: LOCAL_IN mangle, filter, security, nat (SRC), confirm
        v.direction[i] = DIR_IN
        v.nf_hooks[i] = (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_IN)
        if PH_UNLIKELY(ph & (1u << NF_INET_LOCAL_IN)) and \
                self._ph(i, NF_INET_LOCAL_IN, PH_MIN, NF_IP_PRI_MANGLE) == NFV_DROP:
            return self._nf_drop(i, True)
        if self._nf_chain(i, NF_INET_LOCAL_IN, NFT_MANGLE, NFT_FILTER, NFT_SECURITY) == NFV_DROP:
            return self._nf_drop(i, True)
        if PH_UNLIKELY(ph & (1u << NF_INET_LOCAL_IN)) and \
                self._ph(i, NF_INET_LOCAL_IN, NF_IP_PRI_SECURITY, NF_IP_PRI_NAT_SRC) == NFV_DROP:
            return self._nf_drop(i, True)
        if self._nf_has_nat(p.family):
            if self._nf_nat(i, NF_INET_LOCAL_IN) == NFV_DROP:
                return self._nf_drop(i, True)
        if PH_UNLIKELY(ph & (1u << NF_INET_LOCAL_IN)) and \
                self._ph(i, NF_INET_LOCAL_IN, NF_IP_PRI_NAT_SRC, PH_END) == NFV_DROP:
            return self._nf_drop(i, True)
        if ct_confirm(self.nf_ct, p, self.now) == NFV_DROP:
            return self._nf_drop(i, False)
        self._nf_done(i)
        if self.nf_chg:
            self._nf_rewrite(i, v6)
        return True

    cdef void _nf_forward(self, Py_ssize_t i, bint v6) noexcept nogil:
        """Not for the host: ip_forward / ip6_forward (sheet 1.2, 1.5)."""
        cdef uint32_t ph = self.ph_hmask      # Python hooks per hook (kept in a register)
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef NfPkt* p = &self.nfp
        cdef uint64_t s0, s1
        if not (self.ip6_forward if v6 else self.ip_forward):
            # ip_error (forwarding disabled: EHOSTUNREACH) / ip6_forward error:
            # InAddrErrors, no ICMP; PRE_ROUTING already ran, the unconfirmed
            # entry vanishes
            self.ctr[<int>C_Ip6InAddrErrors if v6 else <int>C_IpInAddrErrors] += 1
            if p.ct >= 0:
                ct_discard(self.nf_ct, p)
            self._drop(i, DR_IP_INADDRERRORS)
            self._nf_done(i)
            return
        v.direction[i] = DIR_FWD
        if c.pkt_type[i] != PKTTYPE_HOST:
            if p.ct >= 0:
                ct_discard(self.nf_ct, p)
            self._drop(i, DR_OTHERHOST)
            self._nf_done(i)
            return
        if self.nfc.ip_ttl[i] <= 1:
            # TTL / hop limit exceeded: InHdrErrors, IP_INHDR, ICMP time exceeded
            # (v4: icmp_send; v6: ip6_forward -> icmpv6_send(ICMPV6_TIME_EXCEED,
            # ICMPV6_EXC_HOPLIMIT); both rate limited)
            self.ctr[<int>C_Ip6InHdrErrors if v6 else <int>C_IpInHdrErrors] += 1
            if p.ct >= 0:
                ct_discard(self.nf_ct, p)
            self._drop(i, DR_IP_INHDR)
            if not v6:
                load_addr(c.saddr + 16 * i, &s0, &s1)
                if self._icmp_xmit_allowed(11, s0, s1, False):
                    self.ctr[<int>C_IcmpOutMsgs] += 1
                    self.ctr[<int>C_IcmpOutTimeExcds] += 1
                    # ip_forward -> icmp_send: the datagram quoted from its IP
                    # header (tot_len), at most 548 bytes; ip_local_out
                    self._ip_out(False, 28 + (c.ip_len[i] if c.ip_len[i] < 548 else 548))
                    v.reply[i] = R_ICMP_TIME_EXCEEDED
            else:
                load_addr(c.saddr + 16 * i, &s0, &s1)
                if self._icmp6_err(i, s0, s1, 3, <int64_t>c.ip_len[i]):
                    v.reply[i] = R_ICMP_TIME_EXCEEDED
            self._nf_done(i)
            return
        if not v6:
            self.ctr[<int>C_IpForwDatagrams] += 1       # before FORWARD (ip_forward)
        v.nf_hooks[i] |= 1 << NF_INET_FORWARD
        if PH_UNLIKELY(ph & (1u << NF_INET_FORWARD)) and \
                self._ph(i, NF_INET_FORWARD, PH_MIN, NF_IP_PRI_MANGLE) == NFV_DROP:
            self._nf_drop(i, True)
            return
        if self._nf_chain(i, NF_INET_FORWARD, NFT_MANGLE, NFT_FILTER, NFT_SECURITY) == NFV_DROP:
            self._nf_drop(i, True)
            return
        if PH_UNLIKELY(ph & (1u << NF_INET_FORWARD)) and \
                self._ph(i, NF_INET_FORWARD, NF_IP_PRI_SECURITY, PH_END) == NFV_DROP:
            self._nf_drop(i, True)
            return
        if v6:
            self.ctr[<int>C_Ip6OutForwDatagrams] += 1   # ip6_forward_finish: after FORWARD
        if self._nf_post_routing(i) == NFV_DROP:
            return
        if not v6:
            # ip_output: IpExtOutOctets (skb->len, trimmed to tot_len by
            # ip_rcv_core); ip_finish_output2: OutTransmits (IPSTATS_MIB_OUTPKTS);
            # never OutRequests for a forwarded packet (recorded nf-dnat-service)
            self.ctr[<int>C_IpOutTransmits] += 1
            self.ctr[<int>C_IpExtOutOctets] += c.ip_len[i]
        v.verdict[i] = V_FORWARDED
        self._nf_done(i)
        if (self.nf_chg & NAT_CHG_SPORT) and (p.proto == 6 or p.proto == 17):
            self._nf_fwd_note(i)

    cdef inline uint64_t _nf_fwd_fp(self, const uint8_t* sa, const uint8_t* da, uint16_t dp,
                                    uint8_t proto, uint32_t seq, uint32_t ack,
                                    uint32_t ln) noexcept nogil:
        # the post-NAT packet without its source port: addresses, destination
        # port, TCP seq / ack (NAT leaves them), the datagram length
        cdef uint64_t s0, s1, d0, d1
        load_addr(sa, &s0, &s1)
        load_addr(da, &d0, &d1)
        return mix64(tuple_hash(self.dm.seed, s0, s1, d0, d1, dp, proto)
                     ^ ((<uint64_t>seq << 32) | ack) ^ (<uint64_t>ln << 17)) | 1

    cdef void _nf_fwd_note(self, Py_ssize_t i) noexcept nogil:
        cdef NfPkt* p = &self.nfp
        cdef Batch* c = &self.b
        cdef uint8_t sa[16]
        cdef uint8_t da[16]
        cdef uint64_t fp
        cdef NfFwd* f
        _col_addr(p.saddr, p.family == 6, sa)
        _col_addr(p.daddr, p.family == 6, da)
        if p.proto == 6:
            memset(da, 0, 16)
            fp = self._nf_fwd_fp(sa, da, 0, 6, c.tcp_seq[i], c.tcp_ack[i], c.ip_len[i])
        else:
            fp = self._nf_fwd_fp(sa, da, p.dport, 17, 0, 0, c.ip_len[i])
        f = &self.nf_fwd[fp & (NF_FWD_SLOTS - 1)]
        f.fp = fp
        f.ct = p.ct
        f.gen = self.nf_ct.e[p.ct].gen

    cdef bint _nf_adopt_port(self, Py_ssize_t i, bint v6) noexcept nogil:
        """The kernel's copy of a forwarded packet whose source port NAT
        picked (MASQUERADE / SNAT, --random-fully draws get_random_u32,
        which the model cannot reproduce; nor the kernel's statistic draws
        choosing the DNAT endpoint): when its fingerprint without the port
        (TCP: nor the destination) matches a packet the model forwarded,
        the model adopts the kernel's reply tuple (rehashed), so the
        replies in the capture find their connection.  Counted as
        nat_port_adopted (rule counters keep the model's own draws)."""
        cdef Batch* c = &self.b
        cdef uint8_t proto = c.ip_proto[i]
        cdef uint64_t fp
        cdef NfFwd* f
        cdef int32_t ct
        cdef CtTuple t
        cdef uint8_t zero[16]
        if proto == 6:
            memset(zero, 0, 16)
            fp = self._nf_fwd_fp(c.saddr + 16 * i, zero, 0, 6,
                                 c.tcp_seq[i], c.tcp_ack[i], c.ip_len[i])
        else:
            fp = self._nf_fwd_fp(c.saddr + 16 * i, c.daddr + 16 * i, c.dport[i], 17, 0, 0,
                                 c.ip_len[i])
        f = &self.nf_fwd[fp & (NF_FWD_SLOTS - 1)]
        if f.fp != fp:
            return False
        ct = f.ct
        f.fp = 0
        if not self.nf_ct.e[ct].inuse or self.nf_ct.e[ct].gen != f.gen \
                or not self.nf_ct.e[ct].hashed:
            return False
        # the reply tuple with the captured port must be free
        memcpy(&t, &self.nf_ct.e[ct].t1, sizeof(CtTuple))
        t.dport = c.sport[i]
        _nf_addr(c.daddr + 16 * i, v6, t.src)
        t.sport = c.dport[i]
        if self.nf_ct._find(&t, -1) >= 0:
            return False
        self.nf_ct._hash_remove(ct)
        memcpy(&self.nf_ct.e[ct].t1, &t, sizeof(CtTuple))
        self.nf_ct._hash_insert(ct)
        self.nf_div_port += 1
        self._nf_defaults(i)
        self.vo.ct_id[i] = ct
        return True

    cdef bint _nf_egress_copy(self, Py_ssize_t i, bint v6) noexcept nogil:
        """A captured packet that is the model's own forwarded output seen
        again on the wire (post-NAT): it matches no conntrack tuple, its
        inverse matches an entry with IPS_SRC_NAT / IPS_DST_NAT.  TCP / UDP
        only.  Limitation: a forwarded copy of a connection without NAT
        matches its own tuple and cannot be told from a new arrival (unless
        the link layer marks it outgoing)."""
        cdef Batch* c = &self.b
        cdef CtTuple t
        cdef int32_t n
        cdef uint8_t proto = c.ip_proto[i]
        if not self.nf_any_nat:
            return False                # no NAT'd entry can exist
        if (proto != 6 and proto != 17) or not (c.flags[i] & PF_L4) or (c.flags[i] & PF_FRAG):
            return False
        memset(&t, 0, sizeof(CtTuple))
        _nf_addr(c.saddr + 16 * i, v6, t.src)
        _nf_addr(c.daddr + 16 * i, v6, t.dst)
        t.sport = c.sport[i]
        t.dport = c.dport[i]
        t.proto = proto
        t.family = 6 if v6 else 4
        if self.nf_ct._find(&t, -1) >= 0:
            return False
        memset(&t, 0, sizeof(CtTuple))
        _nf_addr(c.daddr + 16 * i, v6, t.src)
        _nf_addr(c.saddr + 16 * i, v6, t.dst)
        t.sport = c.dport[i]
        t.dport = c.sport[i]
        t.proto = proto
        t.family = 6 if v6 else 4
        n = self.nf_ct._find(&t, -1)
        if n < 0:
            return self._nf_adopt_port(i, v6)
        if not (self.nf_ct.e[n >> 1].status & (IPS_SRC_NAT | IPS_DST_NAT)):
            return False
        self._nf_defaults(i)
        self.vo.ct_id[i] = n >> 1
        return True

    cdef bint _nf_row(self, Py_ssize_t i, bint v6, uint8_t dirn) noexcept nogil:
        """_row's netfilter branch for packets not addressed to the host and
        for the host's own packets.  True: the row is finished here."""
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint64_t s0, s1
        if dirn == DIR_OUT:
            if c.pkt_type[i] == PKTTYPE_OUTGOING:
                load_addr(c.saddr + 16 * i, &s0, &s1)
                if not self._is_local(s0, s1, c.saddr + 16 * i):
                    # the link layer says outgoing, the source is not ours:
                    # a forwarded packet leaving
                    v.direction[i] = DIR_FWD
                    v.verdict[i] = V_SENT
                    return True
            if self._nf_egress_copy(i, v6):
                v.direction[i] = DIR_FWD
                v.verdict[i] = V_SENT
                return True
            self._nf_local_out(i, v6)
            return False
        # not addressed to the host: egress copy, else the receive path
        # (PRE_ROUTING may DNAT it to the host; else forward / InAddrErrors).
        # Frames not sent to our MAC and multicast / broadcast destinations
        # stay NOT_HOST (multicast routing and RTN_BROADCAST delivery are
        # not modelled)
        if c.pkt_type[i] != PKTTYPE_HOST:
            return True
        # _row classified the destination already (nf_dlocal, as _nf_rtn would)
        if self.nf_dlocal >= 0:
            if _rtn_of(c.daddr + 16 * i, v6, self.nf_dlocal) != (1 << RTN_UNICAST):
                return True
        elif self._nf_rtn(c.daddr + 16 * i, v6) != (1 << RTN_UNICAST):
            return True
        if self._nf_egress_copy(i, v6):
            v.direction[i] = DIR_FWD
            v.verdict[i] = V_SENT
            return True
        return False

    cdef void _nf_local_out(self, Py_ssize_t i, bint v6) noexcept nogil:
        """The host's own captured packet: LOCAL_OUT (raw, conntrack, mangle,
        nat DNAT, filter, security) and POST_ROUTING (mangle, nat SNAT,
        confirm), so conntrack sees both directions.  The capture shows the
        packet after POST_ROUTING: its tuple is taken as the pre-NAT one
        (exact for connections the host's own NAT does not rewrite).  An
        NF_DROP here contradicts the capture: counted as the divergence
        host_out_nf_drop; the verdict stays SENT."""
        cdef uint32_t ph = self.ph_hmask      # Python hooks per hook (kept in a register)
        cdef uint32_t hk = self.nf_hk[v6]     # hooks with more than nat (see _nf_input)
        cdef NfPkt* p = &self.nfp
        cdef VOut* v = &self.vo
        cdef int notrack = 0
        self._nf_fill(i, v6)
        p.oif = p.iif
        p.iif = -1
        self.nf_chg = 0
        v.nf_hooks[i] = 1 << NF_INET_LOCAL_OUT
        if hk & (1u << NF_INET_LOCAL_OUT):
            if PH_UNLIKELY(ph & (1u << NF_INET_LOCAL_OUT)) and \
                    self._ph(i, NF_INET_LOCAL_OUT, PH_MIN, NF_IP_PRI_RAW) == NFV_DROP:
                self._nf_out_drop(i, False)
                return
            if self._nf_table(i, NF_INET_LOCAL_OUT, NFT_RAW) == NFV_DROP:
                self._nf_out_drop(i, False)
                return
            notrack = self.nfres.notrack
        if self._nf_attached(i):
            # the offending packet's conntrack (already gone in the model:
            # it was dropped): RELATED, reply direction; no NAT, no confirm
            p.ctstate = CTS_RELATED
            p.ctdir = 1
            self._nf_attached_ct(i, v6)
            v.nf_hooks[i] |= 1 << NF_INET_POST_ROUTING
            if self._nf_table(i, NF_INET_LOCAL_OUT, NFT_MANGLE) == NFV_DROP or \
                    self._nf_chain(i, NF_INET_LOCAL_OUT, NFT_FILTER, NFT_SECURITY, -1) == NFV_DROP \
                    or self._nf_table(i, NF_INET_POST_ROUTING, NFT_MANGLE) == NFV_DROP:
                v.reply[i] = R_NONE
                self._nf_out_drop(i, False)
                return
            self._nf_done(i)
            return
        if hk & (1u << NF_INET_LOCAL_OUT):
            if PH_UNLIKELY(ph & (1u << NF_INET_LOCAL_OUT)) and \
                    self._ph(i, NF_INET_LOCAL_OUT, NF_IP_PRI_RAW, NF_IP_PRI_CONNTRACK) == NFV_DROP:
                self._nf_out_drop(i, False)
                return
        if self.nf_ct.conntrack_in(p, NF_INET_LOCAL_OUT, self.now, notrack) == NFV_DROP:
            self._nf_out_drop(i, False)
            return
        if hk & (1u << NF_INET_LOCAL_OUT):
            if PH_UNLIKELY(ph & (1u << NF_INET_LOCAL_OUT)) and \
                    self._ph(i, NF_INET_LOCAL_OUT, NF_IP_PRI_CONNTRACK, NF_IP_PRI_MANGLE) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
            if self._nf_table(i, NF_INET_LOCAL_OUT, NFT_MANGLE) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
            if PH_UNLIKELY(ph & (1u << NF_INET_LOCAL_OUT)) and \
                    self._ph(i, NF_INET_LOCAL_OUT, NF_IP_PRI_MANGLE, NF_IP_PRI_NAT_DST) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
        if self._nf_has_nat(p.family):
            if self._nf_nat(i, NF_INET_LOCAL_OUT) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
        if hk & (1u << NF_INET_LOCAL_OUT):
            if PH_UNLIKELY(ph & (1u << NF_INET_LOCAL_OUT)) and \
                    self._ph(i, NF_INET_LOCAL_OUT, NF_IP_PRI_NAT_DST, NF_IP_PRI_FILTER) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
            if self._nf_chain(i, NF_INET_LOCAL_OUT, NFT_FILTER, NFT_SECURITY, -1) == NFV_DROP:
                v.reply[i] = R_NONE              # a REJECT reply to our own packet: not modelled
                self._nf_out_drop(i, True)
                return
            if PH_UNLIKELY(ph & (1u << NF_INET_LOCAL_OUT)) and \
                    self._ph(i, NF_INET_LOCAL_OUT, NF_IP_PRI_SECURITY, PH_END) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
        v.nf_hooks[i] = (1 << NF_INET_LOCAL_OUT) | (1 << NF_INET_POST_ROUTING)
        if hk & (1u << NF_INET_POST_ROUTING):
            if PH_UNLIKELY(ph & (1u << NF_INET_POST_ROUTING)) and \
                    self._ph(i, NF_INET_POST_ROUTING, PH_MIN, NF_IP_PRI_MANGLE) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
            if self._nf_chain(i, NF_INET_POST_ROUTING, NFT_MANGLE, -1, -1) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
            if PH_UNLIKELY(ph & (1u << NF_INET_POST_ROUTING)) and \
                    self._ph(i, NF_INET_POST_ROUTING, NF_IP_PRI_MANGLE, NF_IP_PRI_NAT_SRC) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
        if self._nf_has_nat(p.family):
            if self._nf_nat(i, NF_INET_POST_ROUTING) == NFV_DROP:
                self._nf_out_drop(i, True)
                return
        if PH_UNLIKELY(ph & (1u << NF_INET_POST_ROUTING)) and \
                self._ph(i, NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC, PH_END) == NFV_DROP:
            self._nf_out_drop(i, True)
            return
        if ct_confirm(self.nf_ct, p, self.now) == NFV_DROP:
            self._nf_out_drop(i, False)
            return
        self._nf_done(i)

    cdef void _nf_out_drop(self, Py_ssize_t i, bint dead_ct) noexcept nogil:
        if dead_ct and self.nfp.ct >= 0:
            ct_discard(self.nf_ct, &self.nfp)
        self.nf_div_out_drop += 1
        self._nf_done(i)

    cdef void _nf_rewrite(self, Py_ssize_t i, bint v6) noexcept nogil:
        """Local delivery reads the tuple from the columns: write the
        post-NAT tuple into row i (the captured one is saved and put back at
        the end of the batch) and forget the row's prefetched hash."""
        cdef NfCols* x = &self.nfc
        cdef NfPkt* p = &self.nfp
        cdef NfSave* s = &self.nf_save[self.nf_nsave]
        self.nf_nsave += 1
        s.row = i
        memcpy(s.saddr, x.w_saddr + 16 * i, 16)
        memcpy(s.daddr, x.w_daddr + 16 * i, 16)
        s.sport = x.w_sport[i]
        s.dport = x.w_dport[i]
        _col_addr(p.saddr, v6, x.w_saddr + 16 * i)
        _col_addr(p.daddr, v6, x.w_daddr + 16 * i)
        if p.proto == 1 or p.proto == 58:
            x.w_sport[i] = p.dport
        else:
            x.w_sport[i] = p.sport
            x.w_dport[i] = p.dport
        self.hrow[i & (HRING - 1)] = -1

    cdef void _nf_restore(self) noexcept nogil:
        cdef NfCols* x = &self.nfc
        cdef NfSave* s
        cdef int64_t k
        for k in range(self.nf_nsave):
            s = &self.nf_save[k]
            memcpy(x.w_saddr + 16 * s.row, s.saddr, 16)
            memcpy(x.w_daddr + 16 * s.row, s.daddr, 16)
            x.w_sport[s.row] = s.sport
            x.w_dport[s.row] = s.dport
        self.nf_nsave = 0

    cdef void _nf_defaults(self, Py_ssize_t i) noexcept nogil:
        """The netfilter columns of a row that reached no hook: no rule, no
        conntrack, no NAT (ct_id may be set after this: _nf_egress_copy)."""
        cdef VOut* v = &self.vo
        v.nf_hooks[i] = 0
        v.nf_rule[i] = -1
        v.nf_hook[i] = -1
        v.nf_table[i] = -1
        v.ctstate[i] = CTV_NONE
        v.ct_id[i] = -1
        v.nat_chg[i] = 0
        memset(v.nat_saddr + 16 * i, 0, 16)
        memset(v.nat_daddr + 16 * i, 0, 16)
        v.nat_sport[i] = 0
        v.nat_dport[i] = 0
        self.nf_last = i

    cdef _nf_begin(self, RecordBatch rb, PacketColumns c, Verdicts v, Py_ssize_t n):
        """Per batch: the column pointers the hooks read, room to save the
        rows NAT rewrites."""
        cdef NfCols* x = &self.nfc
        # the result columns: written row by row (_nf_fill + _nf_done for
        # the rows that reach a hook, _nf_defaults for the others)
        self.nf_last = -1
        x.iface = rb.iface
        x.icmp_code = c.icmp_code
        x.ip_ttl = c.ip_ttl
        x.tcp_nsack = c.tcp_nsack
        x.tcp_sack = c.tcp_sack
        x.in_proto = c.in_proto
        x.in_saddr = c.in_saddr
        x.in_daddr = c.in_daddr
        x.in_sport = c.in_sport
        x.in_dport = c.in_dport
        x.w_saddr = c.saddr
        x.w_daddr = c.daddr
        x.w_sport = c.sport
        x.w_dport = c.dport
        self.nf_nsave = 0
        if self.nf_save_cap < n:
            free(self.nf_save)
            self.nf_save = <NfSave*>malloc(max(n, 1) * sizeof(NfSave))
            if self.nf_save == NULL:
                self.nf_save_cap = 0
                raise MemoryError()
            self.nf_save_cap = n

    def attach_netfilter(self, rules4=None, rules6=None, conntrack=None, iface_map=(),
                         addresses=(), int ip6_forward=-1):
        """Wire netfilter into the hook points.  rules4 / rules6:
        pystack._core.iptables.CompiledRules of family 4 / 6 (or None);
        conntrack: pystack._core.conntrack.Conntrack (required: conntrack is
        active whenever netfilter is attached); iface_map: per pcapng
        interface index, the host-config interface index (position in the
        ifaces given to compile_rules), -1 unknown; addresses: the host's
        addresses (strings) for MASQUERADE / REDIRECT; ip6_forward: IPv6
        forwarding (-1: as ip_forward).  Call before the first batch."""
        import ipaddress
        if conntrack is None:
            raise ValueError("attach_netfilter needs a Conntrack")
        if rules4 is not None and rules4.family != 4:
            raise ValueError("rules4 is not an IPv4 ruleset")
        if rules6 is not None and rules6.family != 6:
            raise ValueError("rules6 is not an IPv6 ruleset")
        self.nf_ct = conntrack
        self.nf_r4 = rules4
        self.nf_r6 = rules6
        self.nf_has4 = rules4 is not None
        self.nf_has6 = rules6 is not None
        self.nf_nat4 = self.nf_has4 and "nat" in rules4.ruleset.tables
        self.nf_nat6 = self.nf_has6 and "nat" in rules6.ruleset.tables
        self.nf_tmask[0] = 0
        self.nf_tmask[1] = 0
        for fam, cr in ((0, rules4), (1, rules6)):
            if cr is None:
                continue
            for t in range(5):
                for hk in range(5):
                    if (<CompiledRules>cr).hook_entry[t][hk] >= 0:
                        self.nf_tmask[fam] |= 1u << (t * 5 + hk)
        # conntrack copies its tuples into each packet's view only for
        # -m conntrack --ctorig*/--ctrepl* matches (iptables match_one)
        view_tuples = False
        for cr in (rules4, rules6):
            if cr is None:
                continue
            for k in range((<CompiledRules>cr).n_matches):
                if (<CompiledRules>cr).matches[k].kind in (MK_CT_ADDR, MK_CT_PORT):
                    view_tuples = True
        (<Conntrack>conntrack).view_tuples = view_tuples
        self.ip6_forward = self.ip_forward if ip6_forward < 0 else ip6_forward
        iface_map = list(iface_map)
        free(self.nf_ifmap)
        self.nf_nifmap = len(iface_map)
        self.nf_ifmap = <int16_t*>malloc(max(1, self.nf_nifmap) * sizeof(int16_t))
        if self.nf_ifmap == NULL:
            raise MemoryError()
        for k, m in enumerate(iface_map):
            self.nf_ifmap[k] = -1 if m is None else int(m)
        addrs = [ipaddress.ip_address(a) for a in addresses]
        free(self.nf_addrs)
        self.nf_naddr = len(addrs)
        self.nf_addrs = <uint8_t*>calloc(max(1, self.nf_naddr), 17)
        if self.nf_addrs == NULL:
            raise MemoryError()
        for k, ad in enumerate(addrs):
            raw = ad.packed
            for b in range(len(raw)):
                self.nf_addrs[17 * k + b] = raw[b]
            self.nf_addrs[17 * k + 16] = ad.version
        self.nf_div_out_drop = 0
        memset(self.nf_rej, 0, sizeof(self.nf_rej))
        free(self.nf_fwd)
        self.nf_fwd = <NfFwd*>calloc(NF_FWD_SLOTS, sizeof(NfFwd))
        if self.nf_fwd == NULL:
            raise MemoryError()
        self.nf_div_port = 0
        self.nf_any_nat = False
        self.nf_on = True
        self._nf_hk_set()

    cdef void _nf_hk_set(self):
        """nf_hk from the chains present (nf_tmask) and the Python hooks
        (ph_hmask); nat is not in it (_nf_has_nat decides the NAT hooks)."""
        cdef int fam, hk, t
        for fam in range(2):
            self.nf_hk[fam] = self.ph_hmask
            for hk in range(5):
                for t in (NFT_RAW, NFT_MANGLE, NFT_FILTER, NFT_SECURITY):
                    if (self.nf_tmask[fam] >> (t * 5 + hk)) & 1:
                        self.nf_hk[fam] |= 1u << hk

    @property
    def netfilter_attached(self):
        return bool(self.nf_on)

    # ------------------------------------------------------------------
    # Python hooks (Replay.add_hook; pyx/pyhook.pyx)
    #
    # A hook is an extra entry of one hook point, placed like
    # nf_register_net_hook places its nf_hook_ops: after the built-in entries
    # of lower or equal priority (net/netfilter/core.c nf_hook_entries_grow),
    # so _ph(i, hook, lo, hi) runs, at one gap between two built-in entries,
    # the hooks with lo <= priority < hi.  The C filter (ph_match) runs
    # nogil; a matching packet takes the GIL for its call only.  Each gap
    # site tests its hook's bit of ph_hmask (a local copy, PH_UNLIKELY)
    # first: without hooks at that hook point a gap costs one not-taken
    # branch.
    # ------------------------------------------------------------------
    cdef inline int _ph(self, Py_ssize_t i, int hook, int64_t lo, int64_t hi) noexcept nogil:
        if not (self.ph_hmask & (1u << hook)) or hi <= self.ph_pmin[hook] \
                or lo > self.ph_pmax[hook]:
            return NFV_ACCEPT
        return self._ph_run(i, hook, lo, hi)

    cdef int _ph_chain(self, Py_ssize_t i, int hook, int t0, int t1, int t2) noexcept nogil:
        """_nf_chain with the Python hooks that fall between its tables."""
        cdef int t, k, prev = -1
        for k in range(3):
            t = t0 if k == 0 else (t1 if k == 1 else t2)
            if t < 0:
                continue
            if prev >= 0 and self._ph(i, hook, _ph_tpri(prev), _ph_tpri(t)) == NFV_DROP:
                return NFV_DROP
            prev = t
            if self._nf_table(i, hook, t) == NFV_DROP:
                if self.nfres.reject:
                    self._nf_reject(i, self.nfres.reject)
                return NFV_DROP
        return NFV_ACCEPT

    cdef int _ph_run(self, Py_ssize_t i, int hook, int64_t lo, int64_t hi) noexcept nogil:
        cdef int32_t k
        cdef PhEnt* e
        for k in range(self.ph_first[hook], self.ph_first[hook + 1]):
            e = &self.ph[k]
            if e.prio < lo:
                continue
            if e.prio >= hi or self.ph_stop:
                break
            if not ph_match(&e.m, &self.nfp):
                continue
            with gil:
                if self._ph_call(i, k) == NFV_DROP:
                    return NFV_DROP
        return NFV_ACCEPT

    cdef int _ph_call(self, Py_ssize_t i, int32_t k):
        """One Python call (GIL held).  An exception is kept for process()
        to raise after the row; the packet goes on as if ACCEPTed and no
        further hook runs in this batch."""
        cdef PhEnt* e = &self.ph[k]
        cdef HookPacket pkt = HookPacket.__new__(HookPacket)
        cdef timespec t0, t1
        pkt.p = &self.nfp
        pkt.frame = self.ph_frame[i]
        pkt.ts_ns = self.b.ts[i]
        pkt.hook = e.hook
        pkt.priority = e.prio
        pkt.data_p = self.b.base + self.b.offset[i]
        pkt.caplen = self.b.caplen[i]
        e.calls += 1
        clock_gettime(CLOCK_MONOTONIC, &t0)
        try:
            r = self.ph_fns[e.fn](pkt)
            if r is not None and r != "ACCEPT" and r != "DROP":
                raise TypeError(f"hook {self.ph_fns[e.fn]!r} returned {r!r}: "
                                "expected None, ACCEPT or DROP")
        except BaseException as ex:
            clock_gettime(CLOCK_MONOTONIC, &t1)
            e.ns += (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)
            pkt.p = NULL
            self.ph_exc = ex
            self.ph_stop = True
            return NFV_ACCEPT
        clock_gettime(CLOCK_MONOTONIC, &t1)
        e.ns += (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)
        pkt.p = NULL
        if pkt.dropped or r == "DROP":
            e.drops += 1
            return NFV_DROP
        return NFV_ACCEPT

    cdef _ph_raise(self, Verdicts v, Py_ssize_t done):
        """End of a batch in which a hook raised: rows [0, done) were
        processed (the raising packet's included), the rest not; events of
        the processed rows are dropped with the exception."""
        ex = self.ph_exc
        self.ph_exc = None
        self.ph_stop = False
        v.n = done
        self.csum_err = NULL
        self._take_events()
        raise ex

    def set_hooks(self, hooks):
        """hooks: list of (hook 0..4, priority, callable, match dict or
        None), in registration order (the order among equal priorities).
        Needs attach_netfilter first; call before the first batch."""
        cdef int32_t n, k, h
        cdef PhEnt* ents
        if not self.nf_on:
            raise ValueError("set_hooks: netfilter is not attached (attach_netfilter first)")
        hooks = list(hooks)
        order = []
        for idx, item in enumerate(hooks):
            hook, prio, fn, match = item
            if not 0 <= hook < 5:
                raise ValueError(f"hook {hook!r} is not 0..4 (NF_INET_*)")
            if not (PH_MIN <= prio < PH_END):
                raise ValueError(f"priority {prio} outside [{PH_MIN}, {PH_END})")
            if not callable(fn):
                raise TypeError(f"hook function {fn!r} is not callable")
            order.append((hook, prio, idx))
        order.sort()
        n = len(order)
        ents = <PhEnt*>calloc(max(n, 1), sizeof(PhEnt))
        if ents == NULL:
            raise MemoryError()
        try:
            for k, (hook, prio, idx) in enumerate(order):
                ents[k].hook = hook
                ents[k].prio = prio
                ents[k].fn = idx
                ph_compile(hooks[idx][3], &ents[k].m)
        except BaseException:
            free(ents)
            raise
        free(self.ph)
        self.ph = ents
        self.ph_n = n
        self.ph_fns = [item[2] for item in hooks]
        for h in range(6):
            self.ph_first[h] = n
        for h in range(5):
            self.ph_pmin[h] = <int64_t>PH_END + 1
            self.ph_pmax[h] = <int64_t>PH_MIN - 1
        self.ph_hmask = 0
        for k in range(n - 1, -1, -1):
            h = self.ph[k].hook
            self.ph_hmask |= 1u << h
            self.ph_first[h] = k
            self.ph_pmin[h] = min(self.ph_pmin[h], <int64_t>self.ph[k].prio)
            self.ph_pmax[h] = max(self.ph_pmax[h], <int64_t>self.ph[k].prio)
        for h in range(4, -1, -1):
            if self.ph_first[h] > self.ph_first[h + 1]:
                self.ph_first[h] = self.ph_first[h + 1]
        self.ph_exc = None
        self.ph_stop = False
        self.ph_on = n > 0
        self._nf_hk_set()

    def hook_stats(self):
        """Per hook in registration order: calls (packets that matched and
        were passed to it), drops (its NF_DROP verdicts), time_ns (wall-clock
        time inside the calls: a measurement, not model output)."""
        cdef int32_t k
        out = [None] * self.ph_n
        for k in range(self.ph_n):
            out[self.ph[k].fn] = {"calls": int(self.ph[k].calls),
                                  "drops": int(self.ph[k].drops),
                                  "time_ns": int(self.ph[k].ns)}
        return out

    cdef void _outbound(self, Py_ssize_t i, bint v6, uint64_t s0, uint64_t s1,
                        uint64_t d0, uint64_t d1) noexcept nogil:
        cdef Batch* c = &self.b
        cdef VOut* v = &self.vo
        cdef uint16_t sp, dp, f
        cdef uint64_t h
        cdef int32_t s
        cdef Sock* k
        cdef Cookie* ck
        if c.ip_proto[i] != 6 or not (c.flags[i] & PF_L4) or (c.flags[i] & PF_FRAG):
            self._host_tx(i, v6, -1)
            return
        sp = c.sport[i]
        dp = c.dport[i]
        f = c.tcp_flags[i]
        h = tuple_hash(self.dm.seed, s0, s1, d0, d1, sp, dp)
        s = demux_find(&self.dm, s0, s1, d0, d1, sp, dp, <uint32_t>h)
        self._host_tx(i, v6, s)
        if s >= 0:
            k = &self.dm.socks[s]
            v.conn_id[i] = k.conn_id
            v.listener[i] = <int16_t>k.listener
            v.sock_state[i] = k.state
            if k.state != TS_NEW_SYN_RECV:
                self._host_seg(i, s)
                return
            if f & TH_RST:
                # the real host reset a connection the model holds (e.g. its
                # port was closed, or its accept queue overflowed with
                # tcp_abort_on_overflow=1 while the model's did not)
                self.div[DV_HOST_RST] += 1
                self._pend_div(h)
            if (f & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) and k.state == TS_NEW_SYN_RECV \
                    and (c.flags[i] & PF_TCP_TS):
                # tcp_rsk(req)->snt_tsval_first (first SYN-ACK) / _last (latest)
                if not k.tsv_known:
                    k.tsv_first = c.tcp_tsval[i]
                    k.tsv_known = 1
                k.tsv_last = c.tcp_tsval[i]
            if (f & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) and k.state == TS_NEW_SYN_RECV \
                    and not (k.flags & SKF_HOST_ISN):
                k.host_isn = c.tcp_seq[i]
                k.snt_isn = k.host_isn
                k.flags |= SKF_HOST_ISN
            return
        if (f & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK):
            ck = &self.ck[h & self.ck_mask]
            if ck.used and ck.fp == h:
                if not ck.host_known:
                    ck.host_isn = c.tcp_seq[i]
                    ck.host_known = 1
                v.conn_id[i] = ck.conn_id
                v.listener[i] = <int16_t>ck.listener
                v.sock_state[i] = TS_LISTEN
                return
            self.div[DV_HOST_SYNACK_UNMATCHED] += 1
            self._pend_div(h)
            return
        if self.pickup and (f & TH_ACK) and not (f & (TH_SYN | TH_RST | TH_FIN)):
            self._pickup(i, v6, s0, s1, d0, d1, h)

    # ------------------------------------------------------------------
    # output tables (pystack.results): samples and counter snapshots
    # ------------------------------------------------------------------
    def enable_output(self, bint samples, int64_t counter_interval_ns):
        """Emit window/queue samples at every change (take_samples) and
        counter snapshots at every `counter_interval_ns` boundary of capture
        time (take_counter_snapshots; 0 = none).  Call before the first batch."""
        cdef int32_t i
        self.smp_on = samples
        if samples and self.lq_last == NULL:
            self.lq_last = <int64_t*>malloc((2 * self.nls + 2) * sizeof(int64_t))
            if self.lq_last == NULL:
                raise MemoryError()
            for i in range(2 * self.nls + 2):
                self.lq_last[i] = 0
        self.ctr_on = counter_interval_ns > 0
        self.ctr_iv = counter_interval_ns
        self.ctr_next = -1 if self.ctr_on else 0
        self.smp_lost = 0

    cdef int _reserve_output(self, Py_ssize_t n) except -1:
        cdef int64_t cap, j
        cdef void* p
        if self.smp_on:
            if self.slast_cap < self.dm.sock_cap:
                cap = self.dm.sock_cap
                p = realloc(self.slast, cap * sizeof(SampleLast))
                if p == NULL:
                    raise MemoryError()
                self.slast = <SampleLast*>p
                for j in range(self.slast_cap, cap):
                    self.slast[j].conn_id = -1
                self.slast_cap = cap
            # every row touches at most one socket and one listener; a timer
            # fire (bounded by the live timers, re-armed ones included in
            # the headroom) at most one of each; beyond that: smp_lost
            cap = 4 * n + 4 * self.heap_n + 1024
            if cap > self.smp_cap:
                p = realloc(self.smp, cap * sizeof(Sample))
                if p == NULL:
                    raise MemoryError()
                self.smp = <Sample*>p
                self.smp_cap = cap
        if self.ctr_on and self.csnap_cap < n + 2:
            cap = n + 2
            p = realloc(self.csnap, cap * C__COUNT * sizeof(int64_t))
            if p == NULL:
                raise MemoryError()
            self.csnap = <int64_t*>p
            p = realloc(self.csnap_ts, cap * sizeof(int64_t))
            if p == NULL:
                raise MemoryError()
            self.csnap_ts = <int64_t*>p
            self.csnap_cap = cap
        return 0

    cdef void _smp_sock(self, int32_t s, uint32_t adv) noexcept nogil:
        cdef Sock* k = &self.dm.socks[s]
        cdef SampleLast* q
        cdef Sample* o
        cdef int64_t infl
        if s >= self.slast_cap:
            return
        q = &self.slast[s]
        infl = <int64_t><uint32_t>(k.snd_nxt - k.snd_una) if (k.xflags & XF_HOST_SEEN) else 0
        if q.conn_id == k.conn_id and q.rq == k.rq_bytes and q.adv == adv \
                and q.peer == k.snd_wnd and q.inflight == infl:
            return
        q.conn_id = k.conn_id
        q.rq = k.rq_bytes
        q.adv = adv
        q.peer = k.snd_wnd
        q.inflight = infl
        if self.smp_n >= self.smp_cap:
            self.smp_lost += 1
            return
        o = &self.smp[self.smp_n]
        self.smp_n += 1
        o.ts = self.now
        o.conn_id = k.conn_id
        o.listener = k.listener
        o.kind = SMP_SOCK
        o.rcv_queue = k.rq_bytes
        o.adv_win = adv
        o.peer_win = k.snd_wnd
        o.inflight = infl
        o.syn_queue = 0
        o.accept_queue = 0

    cdef void _smp_lis(self, int32_t li, int64_t ts) noexcept nogil:
        cdef LSock* L
        cdef Sample* o
        if li < 0 or li >= self.ntcp:
            return
        L = &self.ls[li]
        if self.lq_last[2 * li] == L.qlen and self.lq_last[2 * li + 1] == L.ack_backlog:
            return
        self.lq_last[2 * li] = L.qlen
        self.lq_last[2 * li + 1] = L.ack_backlog
        if self.smp_n >= self.smp_cap:
            self.smp_lost += 1
            return
        o = &self.smp[self.smp_n]
        self.smp_n += 1
        o.ts = ts
        o.conn_id = -1
        o.listener = li
        o.kind = SMP_LISTENER
        o.rcv_queue = 0
        o.adv_win = 0
        o.peer_win = 0
        o.inflight = 0
        o.syn_queue = L.qlen
        o.accept_queue = L.ack_backlog

    cdef void _smp_timer(self, uint8_t kind, int32_t owner, int32_t li,
                         int64_t when) noexcept nogil:
        """After a timer fired: request expiry and accept() change a
        listener's queues, application reads and delayed ACKs a socket's
        receive queue and window."""
        cdef Sock* k
        if kind == TK_REQ:
            self._smp_lis(li, when)
        elif kind == TK_ACCEPT:
            self._smp_lis(owner, when)
        elif kind == TK_READ or kind == TK_DELACK:
            k = &self.dm.socks[owner]
            if k.rec >= 0 and k.state != TS_NEW_SYN_RECV and k.state != TS_TIME_WAIT:
                self._smp_sock(owner, <uint32_t>(self._select_window(k, False) << k.rcv_wscale))

    cdef void _ctr_tick(self, int64_t t) noexcept nogil:
        """A counter snapshot at the last interval boundary B <= t: the
        timers due before B run first, so the row holds the counters of
        everything before B."""
        cdef int64_t B = t - t % self.ctr_iv
        if self.ctr_next < 0:
            self.ctr_next = B + self.ctr_iv
            return
        self._run_timers(B - 1)
        if self.csnap_n < self.csnap_cap:
            memcpy(&self.csnap[self.csnap_n * C__COUNT], &self.ctr[0],
                   C__COUNT * sizeof(int64_t))
            self.csnap_ts[self.csnap_n] = B
            self.csnap_n += 1
        self.ctr_next = B + self.ctr_iv

    def take_samples(self):
        """The samples emitted since the last call, as numpy columns."""
        out = _struct_columns(self.smp, self.smp_n, SAMPLE_DTYPE, SAMPLE_FIELDS)
        self.smp_n = 0
        return out

    @property
    def samples_lost(self):
        return int(self.smp_lost)

    def take_counter_snapshots(self):
        """(ts_ns int64[m], values int64[m, C__COUNT]) taken since the last call."""
        cdef int64_t n = self.csnap_n
        ts = np.empty(n, np.int64)
        vals = np.empty((n, C__COUNT), np.int64)
        if n:
            memcpy(cnp.PyArray_DATA(ts), self.csnap_ts, n * sizeof(int64_t))
            memcpy(cnp.PyArray_DATA(vals), self.csnap, n * C__COUNT * sizeof(int64_t))
        self.csnap_n = 0
        return ts, vals
