"""What a ``thread.updated`` tells every member: nothing that is one member's own."""

from server.ops.threads import shared_info
from storage.threads import MemberRecord, ThreadRecord


def test_a_members_receipts_and_muting_are_not_told_to_the_others() -> None:
    member = MemberRecord(3, "patient", "Ana", 7, 7)
    record = ThreadRecord(
        1,
        "patient_practitioner",
        2,
        0,
        9,
        [member],
        read_seq=7,
        delivered_seq=8,
        unread=2,
        muted=True,
    )
    info = shared_info(record)
    assert (info.read_seq, info.delivered_seq, info.unread, info.muted) == (0, 0, 0, False)
    assert info.last_seq == 9 and info.members[0].read_seq == 7  # the thread's own, kept
