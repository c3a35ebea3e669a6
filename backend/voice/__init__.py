"""The warm line: peer-answered calls on Twilio Voice (routing, masked calls, three-way handoffs, voicemail)."""
